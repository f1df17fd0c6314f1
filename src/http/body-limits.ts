/**
 * Per-route body limits, below the app-wide 64 KiB (BODY_LIMIT in app.ts, which the contract
 * promises to PUT /accounts/:account). Routes whose bodies are small refuse big ones before
 * parsing them (413 PAYLOAD_TOO_LARGE).
 *
 * 16 KiB plus 1 KiB of room: the largest valid body of POST /tokens/:account/refresh is a
 * 16 384-character `rejected_token` inside `{"rejected_token":"..."}`, which a limit of
 * exactly 16 KiB would refuse. POST /connect/:provider bodies stay under 5 KB by schema.
 */
export const SMALL_BODY_LIMIT = 17 * 1024
