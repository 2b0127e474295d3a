"""A fake of Twilio's REST API (Messages and Calls, API version 2010-04-01) for tests.

`FakeTwilio` is a local HTTP server that the official `twilio` client can be pointed at::

    with FakeTwilio() as fake:
        client = Client(fake.account_sid, fake.auth_token, http_client=TwilioHttpClient(timeout=2))
        client.api.base_url = fake.url
        client.messages.create(to="+8613800138000", from_="+15005550006", body="hi")
        fake.wait_for_messages(1)

What it fakes:

* HTTP Basic auth (account sid / auth token; 401 with error 20003 otherwise).
* Creating, fetching and listing Messages and Calls, with Twilio's JSON (RFC 2822 dates,
  "SM"/"CA" sids, `queued` status, segment counts), Twilio's 400 errors for missing or non
  E.164 numbers, list filters (`To`, `From`, `DateSent`, `DateSent>`, `DateSent<`, `Status`,
  `StartTime...`, `EndTime...`; `>`/`<` are inclusive, as Twilio's `DateSent>=` URLs read) and
  paging (`PageSize`, `next_page_uri` with a `PageToken`), newest first.
* A lifecycle after creation: a message goes `sent` then `delivered` (or the status chosen in
  `final_status`; a `failed` message skips `sent`); `date_sent` is null until it is sent. A
  call goes initiated, ringing, in-progress, then `completed` (or `final_call_status`).
  Status callbacks are posted, signed with X-Twilio-Signature, to `StatusCallback`; calls
  report the `StatusCallbackEvent`s asked for, `completed` only by default.
* Failure injection: `fail_next` (500/503/429 with Retry-After), `stall_next` (the client
  times out; optionally the resource is created anyway), `hold_answer_next` (created at once,
  answered late), `reject_number` (e.g. 21610), and `outage` until `restore` (every request
  answered a 5xx, connections refused, or requests never answered).
* People answering: `reply` posts a signed incoming SMS to the service, `press` posts digits
  to the action of the `<Gather>` in a call's `Twiml`.

What it does not fake: other resources and API versions, API keys (SK...) as credentials,
updating, cancelling, redacting or deleting messages and calls, media, Messaging Service
sender pools (a fixed sender is used), TwiML execution beyond finding `<Gather action>`, a
call's `Url` (TwiML is never fetched from it), callback retries, GET status callbacks, prices,
rate limits other than injected 429s, and inbound messages showing up in `list`.

Run it by hand with `python -m tests.fake_twilio --port 8901`.
"""

from tests.fake_twilio.resources import TwilioError
from tests.fake_twilio.server import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    FakeTwilio,
    OutageMode,
    Recorded,
)
from tests.fake_twilio.webhooks import CallbackAttempt

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "CallbackAttempt",
    "FakeTwilio",
    "OutageMode",
    "Recorded",
    "TwilioError",
]
