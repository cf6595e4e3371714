"""Dash web app (pages, figure builders, job client). Built by the dashboard issue; imports workers, never analysis internals."""
