"""Helpers for the capture-form tests: post a form as a person who took their time."""

import json
import re
import time

from leads import submissions


def token(form, *, age: float = 30) -> str:
    """The token of the form as rendered ``age`` seconds ago."""
    return submissions.issue_token(form, rendered_at=time.time() - age)


def post_hosted(client, form, data: dict, *, age: float = 30, **extra):
    """Submit the hosted page (as the browser or the plain-HTML snippet does)."""
    return client.post(f"/f/{form.slug}/", {"la_token": token(form, age=age), **data}, **extra)


def post_json(client, form, data: dict, *, age: float = 30, **extra):
    """Submit through the script's JSON endpoint."""
    body = json.dumps({"la_token": token(form, age=age), **data})
    return client.post(f"/f/{form.slug}/submit", body, content_type="application/json", **extra)


def rendered_token(html: str) -> str:
    match = re.search(r'name="la_token" value="([^"]+)"', html)
    assert match, "no token in the rendered form"
    return match.group(1)
