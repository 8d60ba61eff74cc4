"""HTTP between the platform and the sandbox PSP without sockets: a requests adapter that hands
each request to the PSP's WSGI app in this process, so a run has no threads and replays."""
from __future__ import annotations

from io import BytesIO

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.response import HTTPResponse


class WSGIAdapter(BaseAdapter):
    """Send requests to a WSGI app; a `Sandbox-Fault: timeout_after` answer becomes the
    caller's own read timeout (the PSP executed, the answer never arrived)."""

    def __init__(self, app):
        super().__init__()
        self.client = app.test_client()

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = requests.utils.urlparse(request.url)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = self.client.open(url.path, method=request.method, query_string=url.query,
                                  data=body, headers=dict(request.headers))
        if answer.headers.get("Sandbox-Fault") == "timeout_after":
            raise requests.ReadTimeout("Read timed out (simulated)", request=request)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = HTTPResponse(body=BytesIO(answer.get_data()), preload_content=False)
        response._content = answer.get_data()
        response.url, response.request = request.url, request
        response.encoding = "utf-8"
        return response

    def close(self):
        pass
