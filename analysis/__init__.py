"""Pure analysis core: loading, cleaning, descriptive statistics, features, clustering, segments, insights.

Imports no web or queue code, so the Dash app, the Celery workers and the command line can all call it.
"""
