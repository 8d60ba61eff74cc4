"""Dead letters for support and admin: failed inbox events and failed jobs, with error, attempts
and a redacted payload; replay one or many (by provider and time range) after a dry run."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app.blueprints.access import current_actor, recent_mfa_required, role_required
from app.blueprints.support.routes import bp
from app.htmx_pages import page_or_partial
from app.models.users import Role
from app.services import audit, dead_letters
from app.services.dead_letters import FilterError


def _filter_or_none():
    try:
        return dead_letters.parse_filter(request.args), None
    except FilterError as exc:
        return dead_letters.Filter(), str(exc)


@bp.get("/dead-letters")
@role_required(Role.SUPPORT, Role.ADMIN)
def dead_letter_list():
    """Failed events (newest first, 50 a page, filtered by provider and time) and failed jobs."""
    wanted, error = _filter_or_none()
    audit.record_access(current_actor(), "dead_letters.viewed", "webhook_events",
                        filter=wanted.as_args())
    events, more = dead_letters.failed_events(wanted)
    status = 400 if error else 200
    return render_template("support/dead_letters.html", events=events, more=more, wanted=wanted,
                           filter_args=wanted.as_args(), error=error,
                           jobs=dead_letters.failed_jobs(), redact=dead_letters.redact), status


@bp.get("/dead-letters/preview")
@role_required(Role.SUPPORT, Role.ADMIN)
def dead_letter_preview():
    """The dry run: what replaying one event (?id=) or every matching one would change."""
    wanted, error = _filter_or_none()
    ids = request.args.getlist("id", type=int) or None
    previews = [] if error else dead_letters.dry_run(wanted, ids)
    context = {"previews": previews, "filter_args": wanted.as_args(), "error": error,
               "limit": dead_letters.REPLAY_LIMIT}
    return page_or_partial("support/dead_letter_preview.html", "support/_replay_preview.html",
                           context, status=400 if error else 200)


@bp.post("/dead-letters/replay")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()
def dead_letter_replay():
    """Replay exactly the events the dry run listed (those still failed)."""
    ids = request.form.getlist("id", type=int)
    if not ids:
        flash("Choose at least one event to replay.", "error")
        return redirect(url_for("support.dead_letter_list"), code=303)
    replayed = dead_letters.replay(ids, current_actor())
    skipped = len(set(ids)) - len(replayed)
    message = f"{len(replayed)} event(s) queued for processing again."
    if skipped:
        message += f" {skipped} had settled meanwhile and were left alone."
    flash(message, "success")
    return redirect(url_for("support.dead_letter_list"), code=303)


@bp.post("/dead-letters/jobs/<job_id>/replay")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()
def dead_letter_job_replay(job_id: str):
    """Run one failed job again with the same arguments (jobs are idempotent)."""
    if dead_letters.requeue_job(job_id[:128], current_actor()):
        flash(f"Job {job_id} queued again.", "success")
    else:
        flash(f"Job {job_id} is no longer in the failed list.", "error")
    return redirect(url_for("support.dead_letter_list"), code=303)
