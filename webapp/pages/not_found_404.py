"""Any address that is not a page."""

from __future__ import annotations

import dash
from dash import dcc, html

from webapp import components as C


def layout(**_kwargs) -> html.Div:
    return html.Div([C.page_header("Page not found"),
                     C.alert(["There is no page at this address. ", dcc.Link("Go to the Data page", href="/"), "."],
                             "warning")])


def register(app: dash.Dash) -> None:
    dash.register_page(__name__, path="/404", name="Not found", title=f"Not found · {C.TITLE}", layout=layout)
