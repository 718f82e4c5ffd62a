/// <reference types="node" />
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  describeError,
  flowUrl,
  parseResultMessage,
  parseResultResponse,
  popupFeatures,
  RESULT_MESSAGE_TYPE,
  resultUrl,
} from '../src/connect-button.js';
import { CONNECT_BUTTON_SCRIPT } from '../src/index.js';

const ID = '0b8f3c2e-4a57-4d0e-9a51-0c8f0d6f7a11';

describe('parseResultMessage', () => {
  it.each([
    ['a success', { type: RESULT_MESSAGE_TYPE, status: 'success', connectionId: ID }, { status: 'success', connectionId: ID }],
    ['an error', { type: RESULT_MESSAGE_TYPE, status: 'error', error: 'access_denied' }, { status: 'error', error: 'access_denied' }],
    ['an error without a code', { type: RESULT_MESSAGE_TYPE, status: 'error' }, { status: 'error', error: 'unknown_error' }],
    ['an oversized error code', { type: RESULT_MESSAGE_TYPE, status: 'error', error: 'x'.repeat(201) }, { status: 'error', error: 'unknown_error' }],
  ])('reads %s', (_name, data, expected) => {
    expect(parseResultMessage(data)).toEqual(expected);
  });

  it.each([
    ['another library message', { type: 'webpackOk' }],
    ['a string', 'lever-connect:result'],
    ['null', null],
    ['an array', [RESULT_MESSAGE_TYPE]],
    ['a success without a connection id', { type: RESULT_MESSAGE_TYPE, status: 'success' }],
    ['a success with a non-string id', { type: RESULT_MESSAGE_TYPE, status: 'success', connectionId: 42 }],
    ['a pending status', { type: RESULT_MESSAGE_TYPE, status: 'pending' }],
    ['a cancel (never sent by the server)', { type: RESULT_MESSAGE_TYPE, status: 'cancel' }],
  ])('ignores %s', (_name, data) => {
    expect(parseResultMessage(data)).toBeNull();
  });
});

describe('parseResultResponse', () => {
  it('keeps polling while the flow is pending or the body is not a result', () => {
    expect(parseResultResponse({ status: 'pending' })).toBeNull();
    expect(parseResultResponse({ error: { code: 'internal_error' } })).toBeNull();
    expect(parseResultResponse('oops')).toBeNull();
  });

  it('reads a success and an error', () => {
    expect(parseResultResponse({ status: 'success', connectionId: ID })).toEqual({ status: 'success', connectionId: ID });
    expect(parseResultResponse({ status: 'error', error: 'access_denied' })).toEqual({ status: 'error', error: 'access_denied' });
  });
});

describe('flow URLs', () => {
  const session = 'https://connect.example.com/connect/cs_abc';

  it('adds the mode, keeping an existing query', () => {
    expect(flowUrl(session, 'popup')).toBe(`${session}?mode=popup`);
    expect(flowUrl(`${session}?lang=en`, 'redirect')).toBe(`${session}?lang=en&mode=redirect`);
    expect(flowUrl('/connect/cs_abc', 'popup', 'http://127.0.0.1:3000/demo')).toBe('http://127.0.0.1:3000/connect/cs_abc?mode=popup');
  });

  it('polls <session>/result without the query', () => {
    expect(resultUrl(session)).toBe(`${session}/result`);
    expect(resultUrl(`${session}/?mode=popup#x`)).toBe(`${session}/result`);
  });
});

describe('popupFeatures', () => {
  it('centres the popup on the current window', () => {
    expect(popupFeatures({ screenX: 100, screenY: 50, outerWidth: 1300, outerHeight: 900 }, 500, 700)).toBe(
      'popup=yes,width=500,height=700,left=500,top=150',
    );
  });

  it('never places it off-screen when the window is smaller than the popup', () => {
    expect(popupFeatures({ screenX: 0, screenY: 0, outerWidth: 300, outerHeight: 300 }, 500, 700)).toBe(
      'popup=yes,width=500,height=700,left=0,top=0',
    );
  });
});

describe('describeError', () => {
  it('explains a denial and falls back to a generic sentence', () => {
    expect(describeError('access_denied')).toMatch(/declined/);
    expect(describeError('authorization_code_invalid')).toMatch(/already used or has expired/);
    expect(describeError('code_exchange_failed')).toMatch(/could not be reached/);
    expect(describeError('something_new')).toBe('Lever could not be connected.');
  });
});

describe('CONNECT_BUTTON_SCRIPT', () => {
  it('is the path of the browser module, which imports nothing', () => {
    expect(CONNECT_BUTTON_SCRIPT).toMatch(/connect-button\.js$/);
    const source = readFileSync(CONNECT_BUTTON_SCRIPT, 'utf8');
    expect(source).toContain("customElements.define('lever-connect-button'");
    expect(source).not.toMatch(/^\s*import\s/m);
  });
});
