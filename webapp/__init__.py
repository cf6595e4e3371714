"""Dash web app: pages, figure builders and the job client.

Built by the dashboard issue; it talks to workers through their client facade, never to analysis internals.
"""
