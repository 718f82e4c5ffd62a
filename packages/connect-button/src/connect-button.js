// @ts-check
/**
 * The "Connect Lever" button: a dependency-free web component and the function behind it.
 *
 * This file is served to browsers as-is (no bundler, no build step), so it is plain ES2022 with JSDoc types,
 * checked by tsc (checkJs). It must import nothing and must evaluate without a DOM (node imports it for
 * unit tests and for CONNECT_BUTTON_SCRIPT).
 */

/** @typedef {import('./index.js').LeverConnectResult} LeverConnectResult */
/** @typedef {import('./index.js').OpenLeverConnectOptions} OpenLeverConnectOptions */

/** `type` of the message the connect result page posts to its opener. */
export const RESULT_MESSAGE_TYPE = 'lever-connect:result';

const DEFAULT_WIDTH = 500;
const DEFAULT_HEIGHT = 700;
const DEFAULT_POLL_MS = 1000;
const DEFAULT_CLOSED_CHECK_MS = 500;
const MAX_CODE_LENGTH = 200;

/** @param {unknown} value @returns {value is Record<string, unknown>} */
function isRecord(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** @param {unknown} value @returns {value is string} */
function isShortString(value) {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_CODE_LENGTH;
}

/**
 * Reads a `message` event's data as a connect result. Anything else (other libraries' messages, malformed
 * or oversized fields) is `null`; the caller must also have checked the event's origin.
 * @param {unknown} data
 * @returns {LeverConnectResult | null}
 */
export function parseResultMessage(data) {
  if (!isRecord(data) || data.type !== RESULT_MESSAGE_TYPE) return null;
  if (data.status === 'success' && isShortString(data.connectionId)) return { status: 'success', connectionId: data.connectionId };
  if (data.status === 'error') return { status: 'error', error: isShortString(data.error) ? data.error : 'unknown_error' };
  return null;
}

/**
 * Reads the JSON of `GET <session>/result`. `null` while the flow is still pending (or the body is not a result).
 * @param {unknown} body
 * @returns {LeverConnectResult | null}
 */
export function parseResultResponse(body) {
  if (!isRecord(body)) return null;
  if (body.status === 'success' && isShortString(body.connectionId)) return { status: 'success', connectionId: body.connectionId };
  if (body.status === 'error') return { status: 'error', error: isShortString(body.error) ? body.error : 'unknown_error' };
  return null;
}

/**
 * The session URL with `?mode=popup|redirect`, keeping any query it already has.
 * @param {string} sessionUrl absolute (or relative to `base`)
 * @param {'popup' | 'redirect'} mode
 * @param {string} [base]
 */
export function flowUrl(sessionUrl, mode, base) {
  const url = new URL(sessionUrl, base);
  url.searchParams.set('mode', mode);
  return url.toString();
}

/**
 * Where the flow's outcome is polled: `<session path>/result`, without the session URL's query.
 * @param {string} sessionUrl
 * @param {string} [base]
 */
export function resultUrl(sessionUrl, base) {
  const url = new URL(sessionUrl, base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/result`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/**
 * `window.open` features for a popup centred on the current browser window.
 * @param {{ screenX: number, screenY: number, outerWidth: number, outerHeight: number }} frame
 * @param {number} width
 * @param {number} height
 */
export function popupFeatures(frame, width, height) {
  const left = Math.max(0, Math.round(frame.screenX + (frame.outerWidth - width) / 2));
  const top = Math.max(0, Math.round(frame.screenY + (frame.outerHeight - height) / 2));
  return `popup=yes,width=${width},height=${height},left=${left},top=${top}`;
}

/**
 * A short sentence for an error code, for the button's error state.
 * @param {string} code
 */
export function describeError(code) {
  switch (code) {
    case 'access_denied':
      return 'Authorization was declined in Lever.';
    case 'connect_session_expired':
    case 'connect_session_used':
    case 'connect_session_not_found':
      return 'This connect link is no longer valid.';
    case 'account_mismatch':
      return 'That is a different Lever account than this connection.';
    case 'authorization_code_invalid':
      return 'The Lever sign-in was already used or has expired.';
    case 'code_exchange_failed':
      return 'Lever could not be reached. Try again in a moment.';
    case 'session_missing':
      return 'No connect session yet.';
    default:
      return 'Lever could not be connected.';
  }
}

/**
 * Runs the Lever authorization for one connect session in a centred popup and settles with its outcome.
 *
 * The outcome arrives by `postMessage` from the session URL's origin, and also by polling
 * `GET <session>/result`: a Cross-Origin-Opener-Policy on any page in the popup severs `window.opener`, and
 * then the message never comes. A popup closed without an outcome settles as `cancel` (after one last poll).
 * If the popup is blocked, the whole page goes through the flow instead (`?mode=redirect`; the server sends
 * the browser back to the session's returnUrl) and the returned promise never settles.
 *
 * @param {string} sessionUrl the `connectUrl` of a connect session
 * @param {OpenLeverConnectOptions} [options]
 * @returns {Promise<LeverConnectResult>}
 */
export function openLeverConnect(sessionUrl, options = {}) {
  const width = options.width ?? DEFAULT_WIDTH;
  const height = options.height ?? DEFAULT_HEIGHT;
  const base = window.location.href;
  const origin = new URL(sessionUrl, base).origin;
  const pollUrl = resultUrl(sessionUrl, base);

  const popup = window.open(flowUrl(sessionUrl, 'popup', base), 'lever-connect', popupFeatures(window, width, height));
  if (!popup) {
    window.location.assign(flowUrl(sessionUrl, 'redirect', base));
    return new Promise(() => {});
  }
  popup.focus?.();

  return new Promise((resolve) => {
    let settled = false;
    let polling = false;

    /** @param {LeverConnectResult} result */
    const settle = (result) => {
      if (settled) return;
      settled = true;
      window.removeEventListener('message', onMessage);
      clearInterval(pollTimer);
      clearInterval(closedTimer);
      options.signal?.removeEventListener('abort', onAbort);
      // The result page closes itself; this covers the polling path and the abort.
      if (result.status !== 'error' && !popup.closed) popup.close();
      resolve(result);
    };

    /** @returns {Promise<LeverConnectResult | null>} */
    const poll = async () => {
      try {
        const response = await fetch(pollUrl, { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'omit' });
        if (response.status === 404) return { status: 'error', error: 'connect_session_not_found' };
        if (!response.ok) return null; // transient: the next poll or the message decides
        const result = parseResultResponse(await response.json());
        if (result?.status === 'error' && result.error === options.staleError) return null;
        return result;
      } catch {
        return null; // offline, or a cross-origin api without CORS: the postMessage path still works
      }
    };

    /** @param {MessageEvent} event */
    const onMessage = (event) => {
      if (event.origin !== origin) return;
      const result = parseResultMessage(event.data);
      if (result) settle(result);
    };

    const onAbort = () => settle({ status: 'cancel' });

    const pollTimer = setInterval(async () => {
      if (polling || settled) return;
      polling = true;
      const result = await poll();
      polling = false;
      if (result) settle(result);
    }, options.pollIntervalMs ?? DEFAULT_POLL_MS);

    const closedTimer = setInterval(async () => {
      if (settled || !popup.closed) return;
      clearInterval(closedTimer);
      clearInterval(pollTimer);
      // The result may have landed between the last poll and the close (or the opener was severed).
      settle((await poll()) ?? { status: 'cancel' });
    }, options.closedCheckIntervalMs ?? DEFAULT_CLOSED_CHECK_MS);

    window.addEventListener('message', onMessage);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort);
  });
}

const STYLE = `
:host { display: inline-block; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
:host([hidden]) { display: none; }
.wrap { display: inline-flex; flex-direction: column; align-items: flex-start; gap: 6px; }
button.main {
  display: inline-flex; align-items: center; gap: 10px; min-height: 40px; padding: 0 18px 0 14px;
  font-family: inherit; font-size: 14px; font-weight: 600; line-height: 1; letter-spacing: .01em; color: #fff; cursor: pointer;
  background: #1f2633; border: 1px solid #1f2633; border-radius: 8px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, .12); transition: background-color .15s, box-shadow .15s, opacity .15s;
}
button.main:hover:not(:disabled) { background: #323c4f; }
button.main:active:not(:disabled) { background: #151a24; }
button.main:focus-visible, button.retry:focus-visible { outline: none; box-shadow: 0 0 0 3px #fff, 0 0 0 5px #5b6cf0; }
button.main:disabled { cursor: default; opacity: .55; }
button.main[aria-busy="true"] { opacity: .85; cursor: progress; }
:host([data-state="success"]) button.main { background: #137a3f; border-color: #137a3f; opacity: 1; }
.mark {
  display: inline-grid; place-items: center; width: 20px; height: 20px; border-radius: 5px;
  background: #fff; color: #1f2633; font-family: inherit; font-size: 13px; font-weight: 800; line-height: 1;
}
:host([data-state="success"]) .mark { color: #137a3f; }
.spinner {
  display: none; width: 16px; height: 16px; border-radius: 50%;
  border: 2px solid rgba(255, 255, 255, .35); border-top-color: #fff; animation: spin .8s linear infinite;
}
:host([data-state="busy"]) .spinner { display: inline-block; }
:host([data-state="busy"]) .mark { display: none; }
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .spinner { animation-duration: 2.4s; } }
.error { display: none; align-items: center; gap: 8px; font-size: 13px; line-height: 1.3; color: #b3261e; }
:host([data-state="error"]) .error { display: inline-flex; }
button.retry {
  font-family: inherit; font-size: 13px; font-weight: 600; line-height: 1; color: #3a48c9; background: none; border: 0; padding: 2px;
  border-radius: 4px; cursor: pointer; text-decoration: underline; text-underline-offset: 2px;
}
button.retry:hover { color: #28339a; }
button.retry:disabled { color: #8a92a6; cursor: default; }
`;

/** @type {CSSStyleSheet | undefined} */
let sharedSheet;

/**
 * Shadow styles as a constructed stylesheet where supported: a page's CSP `style-src` does not apply to it,
 * so operators need no 'unsafe-inline' for the button.
 * @param {ShadowRoot} root
 */
function adoptStyles(root) {
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    if (!sharedSheet) {
      sharedSheet = new CSSStyleSheet();
      sharedSheet.replaceSync(STYLE);
    }
    root.adoptedStyleSheets = [sharedSheet];
    return;
  }
  const style = document.createElement('style');
  style.textContent = STYLE;
  root.append(style);
}

// Node has no HTMLElement; the class below must still be declarable there.
const ElementBase = /** @type {typeof HTMLElement} */ (typeof HTMLElement === 'undefined' ? class {} : HTMLElement);

/** @typedef {'idle' | 'busy' | 'success' | 'error'} ButtonState */

/**
 * `<lever-connect-button session="CONNECT_URL" label="Connect Lever">`.
 *
 * Fires `lever-connect:success` ({connectionId}), `lever-connect:error` ({error}) and `lever-connect:cancel`,
 * all bubbling and composed. Without a `session` (or with `disabled`) the button is disabled. A new `session`
 * value resets a finished flow; an error state stays until retried, and the retry uses the current session.
 */
export class LeverConnectButton extends ElementBase {
  static observedAttributes = ['session', 'label', 'disabled'];

  /** @type {ButtonState} */
  #state = 'idle';
  /** @type {string | undefined} error code of the last failed attempt, and the session it belongs to */
  #lastError;
  /** @type {string | undefined} */
  #lastErrorSession;
  /** @type {AbortController | undefined} */
  #flow;
  /** @type {HTMLButtonElement} */
  #button;
  /** @type {HTMLSpanElement} */
  #label;
  /** @type {HTMLSpanElement} */
  #message;
  /** @type {HTMLButtonElement} */
  #retry;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    adoptStyles(root);
    const wrap = document.createElement('div');
    wrap.className = 'wrap';
    wrap.setAttribute('part', 'container');

    this.#button = document.createElement('button');
    this.#button.type = 'button';
    this.#button.className = 'main';
    this.#button.setAttribute('part', 'button');
    const mark = document.createElement('span');
    mark.className = 'mark';
    mark.setAttribute('aria-hidden', 'true');
    mark.textContent = 'L';
    const spinner = document.createElement('span');
    spinner.className = 'spinner';
    spinner.setAttribute('aria-hidden', 'true');
    this.#label = document.createElement('span');
    this.#label.className = 'label';
    this.#button.append(mark, spinner, this.#label);
    this.#button.addEventListener('click', () => void this.connect());

    const error = document.createElement('div');
    error.className = 'error';
    error.setAttribute('role', 'alert');
    error.setAttribute('part', 'error');
    this.#message = document.createElement('span');
    this.#retry = document.createElement('button');
    this.#retry.type = 'button';
    this.#retry.className = 'retry';
    this.#retry.textContent = 'Try again';
    this.#retry.addEventListener('click', () => void this.connect());
    error.append(this.#message, this.#retry);

    wrap.append(this.#button, error);
    root.append(wrap);
  }

  connectedCallback() {
    this.#render();
  }

  /**
   * @param {string} name
   * @param {string | null} oldValue
   * @param {string | null} newValue
   */
  attributeChangedCallback(name, oldValue, newValue) {
    if (name === 'session' && oldValue !== newValue && this.#state === 'success') this.#state = 'idle';
    this.#render();
  }

  /** The connect session URL (the `session` attribute). */
  get session() {
    return this.getAttribute('session') ?? '';
  }

  set session(value) {
    if (value) this.setAttribute('session', value);
    else this.removeAttribute('session');
  }

  /** The current state: `idle`, `busy` (popup open), `success` or `error`. */
  get state() {
    return this.#state;
  }

  /**
   * Runs the flow with the current session (what a click does). Settles with the result; the matching event
   * has been dispatched by then.
   * @returns {Promise<LeverConnectResult>}
   */
  async connect() {
    const session = this.session;
    if (this.#state === 'busy') return { status: 'cancel' };
    if (!session || this.hasAttribute('disabled')) return { status: 'error', error: 'session_missing' };
    this.#flow = new AbortController();
    const staleError = this.#lastErrorSession === session ? this.#lastError : undefined;
    this.#setState('busy');
    const result = await openLeverConnect(session, { signal: this.#flow.signal, ...(staleError ? { staleError } : {}) });
    this.#flow = undefined;
    if (result.status === 'success') {
      this.#setState('success');
      this.#emit('lever-connect:success', { connectionId: result.connectionId });
    } else if (result.status === 'error') {
      this.#lastError = result.error;
      this.#lastErrorSession = session;
      this.#message.textContent = describeError(result.error);
      this.#setState('error');
      this.#emit('lever-connect:error', { error: result.error });
    } else {
      this.#setState('idle');
      this.#emit('lever-connect:cancel', {});
    }
    return result;
  }

  /** Closes an open popup; the flow settles as `cancel`. */
  cancel() {
    this.#flow?.abort();
  }

  /** @param {ButtonState} state */
  #setState(state) {
    this.#state = state;
    this.#render();
  }

  /**
   * @param {string} type
   * @param {object} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  #render() {
    const busy = this.#state === 'busy';
    const label = this.getAttribute('label') || 'Connect Lever';
    this.dataset.state = this.#state;
    this.#label.textContent = busy ? 'Waiting for Lever…' : this.#state === 'success' ? 'Lever connected' : label;
    const unusable = !this.session || this.hasAttribute('disabled');
    this.#button.disabled = busy || this.#state === 'success' || unusable;
    this.#retry.disabled = unusable;
    this.#button.setAttribute('aria-busy', String(busy));
  }
}

if (typeof customElements !== 'undefined' && !customElements.get('lever-connect-button')) {
  customElements.define('lever-connect-button', LeverConnectButton);
}
