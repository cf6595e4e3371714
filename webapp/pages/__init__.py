"""One module per page: ``layout(**path_or_query_variables)`` and ``register(app)`` (its ``register_page`` and its
callbacks, bound to that app so that tests can build several apps in one process)."""

from webapp.pages import data, insights, jobs, not_found_404, overview, results, segments

PAGES = (data, overview, segments, insights, jobs, results, not_found_404)

__all__ = ["PAGES"]
