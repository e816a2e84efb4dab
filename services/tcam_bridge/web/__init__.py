"""The risk-log web app for medicines safety leads (``tcam web``): pages and a JSON API."""

from tcam_bridge.web.app import create_app

__all__ = ["create_app"]
