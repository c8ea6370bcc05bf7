// The webview side of the message channel, typed by the protocol.
declare function acquireVsCodeApi(): { postMessage(m: unknown): void; getState(): unknown; setState(s: unknown): void };

const api = acquireVsCodeApi();

export function channel<In, Out>(onMessage: (m: In) => void): { post: (m: Out) => void; state: { get<S>(): S | undefined; set<S>(s: S): void } } {
  window.addEventListener('message', (e: MessageEvent) => onMessage(e.data as In));
  return {
    post: (m: Out) => api.postMessage(m),
    state: { get: <S>() => api.getState() as S | undefined, set: <S>(s: S) => api.setState(s) },
  };
}
