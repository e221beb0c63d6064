import { parseJson } from '../http.js';

/**
 * How the dispatcher treats a failed action:
 * - `permanent`: retrying the same request cannot help (licence limit, validation, not found,
 *   bad credentials); parked and retried only at a long interval or on the operator's word;
 * - `transient`: the server is down, busy or rate-limiting; retried with capped backoff;
 * - `unknown-outcome`: the request was sent and no answer came; the server may have acted on
 *   it, so a create is reconciled by a search before anything is sent again.
 */
export type CmmsErrorKind = 'permanent' | 'transient' | 'unknown-outcome';

export const ERROR_KINDS: readonly CmmsErrorKind[] = ['permanent', 'transient', 'unknown-outcome'];

export class CmmsError extends Error {
  override readonly name = 'CmmsError';
  constructor(
    readonly kind: CmmsErrorKind,
    message: string,
    /** HTTP status, when there was one. */
    readonly status?: number,
    /** The free tier's limit answered (403 "You need a license…"). */
    readonly licence = false,
  ) {
    super(message);
  }
}

/** What a reply means to the client, before any retry. */
export type ReplyVerdict =
  | { kind: 'ok' }
  /** The access token is refused: sign in again and repeat the request once. */
  | { kind: 'auth' }
  | { kind: 'rate-limit' }
  | { kind: CmmsErrorKind; licence?: boolean };

/** `{success:false, message}` (Atlas's SuccessResponse), Spring's error page or a 429's `{error, message}`. */
export function replyMessage(text: string): string | undefined {
  const body = parseJson(text);
  if (body === null || typeof body !== 'object') return undefined;
  const message = (body as { message?: unknown }).message;
  return typeof message === 'string' && message !== '' ? message : undefined;
}

/**
 * Classifies one Atlas reply. `authenticated`: the request carried an access token (a refused
 * sign-in is a permanent error, not a cue to sign in again).
 *
 * Atlas refuses a bad token in its JWT filter with `sendError(500, "Expired or invalid JWT
 * token")` (JwtTokenProvider.validateToken), not 401. That reply comes from the servlet
 * container's error page, not from a controller: Spring's `{timestamp, status, error, path}`
 * shape, whose `message` Spring Boot 3 leaves out by default, and which Spring Security may even
 * turn into an empty 403 because `/error` is not public there. Controllers answer
 * `{success:false, message}` instead. So a 500 or 403 on an authenticated request counts as a
 * refused token when it names the JWT or is not a controller's answer; repeating it after a
 * fresh sign-in is safe because the request never reached a controller.
 */
export function classifyReply(status: number, text: string, authenticated: boolean): ReplyVerdict {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (status === 429) return { kind: 'rate-limit' };
  const message = replyMessage(text) ?? '';
  const controllerAnswer = isControllerAnswer(text);
  if (authenticated) {
    if (status === 401) return { kind: 'auth' };
    if (status === 500 && (/jwt/i.test(message) || !controllerAnswer)) return { kind: 'auth' };
    if (status === 403 && !controllerAnswer) return { kind: 'auth' };
  }
  if (status === 403 && /licen[cs]e/i.test(message)) return { kind: 'permanent', licence: true };
  if (status === 408 || status >= 500) return { kind: 'transient' };
  return { kind: 'permanent' };
}

/** A body with `success` is Atlas's SuccessResponse: a controller (or its advice) answered. */
function isControllerAnswer(text: string): boolean {
  const body = parseJson(text);
  return typeof body === 'object' && body !== null && 'success' in body;
}
