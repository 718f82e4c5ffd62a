import { useEffect, useState } from 'preact/hooks';
import type { SessionInfo } from './types.ts';

/** Why the sign-in page is showing, when it is not the first visit. */
export type SignedOutReason = 'ended' | 'signed_out' | null;

interface SessionState {
  /** undefined: not known yet (the first GET /console/session is in flight). */
  session: SessionInfo | null | undefined;
  signedOutReason: SignedOutReason;
}

let state: SessionState = { session: undefined, signedOutReason: null };
const listeners = new Set<() => void>();

function set(next: Partial<SessionState>) {
  state = { ...state, ...next };
  for (const listener of listeners) listener();
}

export const sessionState = () => state;
export const signedIn = (session: SessionInfo) => set({ session, signedOutReason: null });
/** The server no longer knows the session (idle, too old, its key revoked): back to the sign-in page. */
export const sessionEnded = () => set({ session: null, signedOutReason: state.session ? 'ended' : state.signedOutReason });
export const signedOut = () => set({ session: null, signedOutReason: 'signed_out' });

/** The session, re-rendering the caller when it changes. */
export function useSession(): SessionState {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return state;
}
