"""Evidence uploads and downloads as an attacker would try them: wrong types, huge bodies,
hostile names, other people's files, forged forms."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.extensions import db
from app.models import AuditRecord, DisputeCase, EvidenceFile
from app.services.disputes import evidence
from tests.blueprints.money_steps import holds, paid_order
from tests.flows import login

PDF = b"%PDF-1.4\n% proof\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _client(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


def _html(response) -> str:
    return response.get_data(as_text=True)


def _stored() -> list[str]:
    return sorted(p.name for p in evidence.storage_dir().iterdir())


@pytest.fixture
def order(app, people, stack, psp) -> int:
    """A captured order: 2 mugs (seller) and a candle (other seller)."""
    return paid_order(app, people, stack, psp)


@pytest.fixture
def limits(app, monkeypatch):
    """1000-byte files, two per message: the request limit is 2000 bytes + 256 KiB of fields."""
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 1000)
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_FILES", 2)


def _open(client, order: int, files, title: str = "Mug", **extra):
    line_id = holds(order)[title].order_line_id
    return client.post(f"/claims/new/{line_id}", content_type="multipart/form-data", data={
        "reason": "not_as_described", "message": "See the file.", "files": files, **extra})


def _file_id(app, order, name: str = "proof.pdf", data: bytes = PDF) -> int:
    response = _open(_client(app, "buyer"), order, [(io.BytesIO(data), name)])
    assert response.status_code == 303, _html(response)[:300]
    return db.session.execute(select(EvidenceFile.id)).scalar_one()


# --- downloads ----------------------------------------------------------------------------------

def test_a_download_is_an_attachment_with_a_safe_type(app, people, order):
    file_id = _file_id(app, order, name="report.pdf")
    response = _client(app, "seller").get(f"/claims/files/{file_id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert 'filename=report.pdf' in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]


def test_html_uploaded_as_an_image_downloads_as_plain_text(app, people, order):
    page = b"<html><body><script>alert(document.cookie)</script></body></html>"
    file_id = _file_id(app, order, name="photo.png", data=page)
    row = db.session.get(EvidenceFile, file_id)
    assert (row.content_type, row.display_name) == ("text/plain", "photo.png.txt")
    response = _client(app, "support").get(f"/claims/files/{file_id}")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_only_the_parties_and_staff_download(app, people, order):
    file_id = _file_id(app, order)
    for who in ("buyer", "seller", "support", "admin"):
        assert _client(app, who).get(f"/claims/files/{file_id}").status_code == 200, who
    for who in ("other_buyer", "other_seller"):
        response = _client(app, who).get(f"/claims/files/{file_id}")
        assert response.status_code == 404 and PDF not in response.data
    assert _client(app, "buyer").get(f"/claims/files/{file_id + 99}").status_code == 404
    assert app.test_client().get(f"/claims/files/{file_id}").status_code == 302
    denied = db.session.query(AuditRecord).filter_by(action="access.denied").all()
    assert {d.target for d in denied} >= {f"evidence_file:{file_id}"}


def test_files_are_not_reachable_as_static_files(app, people, order):
    file_id = _file_id(app, order)
    stored = db.session.get(EvidenceFile, file_id).stored_name
    client = _client(app, "buyer")
    assert client.get(f"/static/{stored}").status_code == 404
    assert client.get(f"/static/../instance/evidence/{stored}").status_code == 404


def test_a_hostile_name_is_shown_escaped_and_never_used_as_a_path(app, people, order):
    name = '../../<img src=x onerror=alert(1)>"\u202e.png'
    file_id = _file_id(app, order, name=name, data=PNG)
    row = db.session.get(EvidenceFile, file_id)
    assert "/" not in row.display_name and "\u202e" not in row.display_name
    assert row.stored_name in _stored()
    html = _html(_client(app, "seller").get(f"/claims/{row.case_id}"))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


# --- uploads ------------------------------------------------------------------------------------

def test_an_oversized_file_is_refused_with_413_and_nothing_is_kept(app, people, order, limits):
    before = _stored()
    response = _open(_client(app, "buyer"), order, [(io.BytesIO(PDF + bytes(1000)), "big.pdf")])
    assert response.status_code == 413
    assert "“big.pdf” is larger than" in _html(response)
    assert db.session.query(DisputeCase).count() == 0 and _stored() == before


def test_a_body_over_the_upload_limit_is_cut_off_with_413(app, people, order, limits):
    response = _open(_client(app, "buyer"), order, [(io.BytesIO(PDF + bytes(400_000)), "huge.pdf")])
    assert response.status_code == 413
    assert "That upload is too large: PDF, PNG, JPEG or plain text" in _html(response)
    assert db.session.query(DisputeCase).count() == 0


def test_more_than_the_allowed_files_is_refused(app, people, order, limits):
    files = [(io.BytesIO(PDF), f"{n}.pdf") for n in range(3)]
    response = _open(_client(app, "buyer"), order, files)
    assert response.status_code == 400 and "at most 2 files" in _html(response)
    assert db.session.query(EvidenceFile).count() == 0


def test_a_wrong_type_is_refused_whatever_it_claims(app, people, order):
    before = _stored()
    exe = (io.BytesIO(b"MZ\x90\x00\x03" + bytes(64)), "invoice.pdf", "application/pdf")
    response = _open(_client(app, "buyer"), order, [exe])
    assert response.status_code == 400
    assert "“invoice.pdf” is not a PDF, PNG, JPEG or plain-text file." in _html(response)
    assert db.session.query(DisputeCase).count() == 0 and _stored() == before


def test_a_large_file_within_the_default_limits_is_accepted(app, people, order):
    """Default limits (5 MB a file) sit above the site-wide 2 MB body limit: uploads only."""
    big = PDF + bytes(3 * 1024 * 1024)
    # Encoded here, in memory: given the file, the test client would spool a body this size to
    # a temporary file that it never closes.
    boundary, body = encode_multipart({"reason": "not_as_described", "message": "See the file.",
                                       "files": FileStorage(io.BytesIO(big), "scan.pdf")})
    line_id = holds(order)["Mug"].order_line_id
    response = _client(app, "buyer").post(f"/claims/new/{line_id}", data=body,
                                          content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 303
    assert db.session.execute(select(EvidenceFile.size)).scalar_one() == len(big)
    # Everything else keeps the site-wide limit.
    login_page = app.test_client().post("/login", data={"email": "x" * (3 * 1024 * 1024)})
    assert login_page.status_code == 413


# --- forged forms ---------------------------------------------------------------------------------

def test_uploads_without_the_token_are_refused(app, people, order, monkeypatch):
    buyer, seller = _client(app, "buyer"), _client(app, "seller")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)  # as in production, once in
    response = _open(buyer, order, [(io.BytesIO(PDF), "p.pdf")])
    assert response.status_code == 400
    assert db.session.query(DisputeCase).count() == 0
    line_id = holds(order)["Mug"].order_line_id
    token = TOKEN.search(_html(buyer.get(f"/claims/new/{line_id}"))).group(1)
    assert _open(buyer, order, [(io.BytesIO(PDF), "p.pdf")], csrf_token="forged").status_code \
        == 400
    response = _open(buyer, order, [(io.BytesIO(PDF), "p.pdf")], csrf_token=token)
    assert response.status_code == 303
    case_id = db.session.execute(select(DisputeCase.id)).scalar_one()
    for path in (f"/claims/{case_id}/contest", f"/claims/{case_id}/messages",
                 f"/claims/{case_id}/accept", f"/claims/{case_id}/escalate"):
        response = seller.post(path, data={"message": "forged"},
                               content_type="multipart/form-data")
        assert response.status_code == 400, path
    db.session.expire_all()
    assert db.session.get(DisputeCase, case_id).status == "open"
    assert db.session.query(EvidenceFile).count() == 1
    # The claim page's own forms carry the token that lets them through.
    page = _html(seller.get(f"/claims/{case_id}"))
    assert len(TOKEN.findall(page)) >= 4  # logout, accept, contest, reply, escalate
    response = seller.post(f"/claims/{case_id}/contest", content_type="multipart/form-data",
                           data={"message": "Delivered.", "csrf_token": TOKEN.search(page).group(1),
                                 "files": [(io.BytesIO(PNG), "photo.png")]})
    assert response.status_code == 303
    assert db.session.query(EvidenceFile).count() == 2


def test_staff_confirm_their_code_again_before_a_download(app, people, order):
    from app.auth_session import MFA_AT

    file_id = _file_id(app, order)
    support = _client(app, "support")
    with support.session_transaction() as session:
        session[MFA_AT] -= 600
    response = support.get(f"/claims/files/{file_id}")
    assert response.status_code == 303 and "/account/code" in response.headers["Location"]
    assert PDF not in response.data
