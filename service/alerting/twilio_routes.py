"""Twilio's callbacks: delivery reports, SMS replies and key presses during a call.

Every request must carry a valid `X-Twilio-Signature` (HMAC-SHA1 of the URL Twilio called
and the form fields, keyed with the auth token); anything else gets 403 and changes nothing.
The URL is rebuilt from `LINLI_PUBLIC_URL` when it is set, because behind a proxy the
address this service sees is not the one Twilio signed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from service.alerting import messages, outbox, replies
from service.alerting.providers.twilio import notification_status, voice_for
from service.deps import PoolDep, SettingsDep
from service.errors import BadRequest, Forbidden
from service.ids import Id

router = APIRouter(
    tags=["twilio"],
    responses={403: {"description": "Not signed by Twilio (or Twilio is not configured)"}},
)
TWIML = "application/xml"


async def twilio_form(request: Request, settings: SettingsDep) -> dict[str, str]:
    """The form Twilio posted, once its signature is checked (403 otherwise)."""
    token = settings.twilio_auth_token
    if token is None:
        raise Forbidden("Twilio is not configured here")
    form = {key: str(value) for key, value in (await request.form()).items()}
    url = str(request.url)
    if settings.public_url:
        query = f"?{request.url.query}" if request.url.query else ""
        url = f"{settings.public_url.rstrip('/')}{request.url.path}{query}"
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token.get_secret_value()).validate(url, form, signature):
        raise Forbidden("bad or missing X-Twilio-Signature")
    if any("\x00" in key or "\x00" in value for key, value in form.items()):
        # No text or call carries one, and PostgreSQL text cannot hold it.
        raise BadRequest("a form field holds the NUL character")
    return form


TwilioForm = Annotated[dict[str, str], Depends(twilio_form)]


@router.post("/v1/twilio/status", status_code=204)
async def twilio_status(
    request: Request,
    form: TwilioForm,
    pool: PoolDep,
    notification: Annotated[Id | None, Query(description="Our id for the message.")] = None,
) -> Response:
    """A message's or call's delivery report; unknown ids are logged and ignored. A message
    that failed moves the alert on to its next step, which is sent now, not at the next
    minute's tick."""
    sid = form.get("MessageSid") or form.get("CallSid") or ""
    status = notification_status(form.get("MessageStatus") or form.get("CallStatus"))
    if sid and status is not None:
        async with pool.connection() as conn, conn.transaction():
            known = await replies.delivery_report(
                conn, "twilio", sid, status, datetime.now(UTC), notification
            )
        if known and status in outbox.FAILED:
            await request.app.state.alerting.wake()
    return Response(status_code=204)


@router.post("/v1/twilio/inbound")
async def twilio_inbound(form: TwilioForm, pool: PoolDep) -> Response:
    """An SMS reply: `1`, `OK` or `收到` acknowledges the alert it answers; STOP is kept."""
    async with pool.connection() as conn, conn.transaction():
        answer = await replies.sms_reply(
            conn, form.get("From", ""), form.get("Body", ""), datetime.now(UTC)
        )
    twiml = MessagingResponse()
    if answer is not None:
        twiml.message(answer)
    return Response(str(twiml), media_type=TWIML)


@router.post("/v1/twilio/voice")
async def twilio_key_press(
    form: TwilioForm,
    pool: PoolDep,
    notification: Annotated[Id, Query(description="The call's notification id.")],
) -> Response:
    """A key pressed during an alert call: 1 acknowledges the alert."""
    async with pool.connection() as conn, conn.transaction():
        language = await replies.key_press(
            conn, notification, form.get("Digits", ""), datetime.now(UTC)
        )
    twiml = VoiceResponse()
    if language is not None:
        voice, spoken_language = voice_for(language)
        twiml.say(messages.acknowledged_spoken(language), voice=voice, language=spoken_language)
    twiml.hangup()
    return Response(str(twiml), media_type=TWIML)
