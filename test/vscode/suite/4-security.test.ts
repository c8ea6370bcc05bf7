import * as assert from 'assert';
import * as vscode from 'vscode';
import { contentSecurityPolicy, webviewHtml, webviewOptions } from '../../../src/extension/webviewHtml';

suite('webview security', () => {
  const fake = { cspSource: 'https://example.vscode-cdn.net', asWebviewUri: (u: vscode.Uri) => u } as unknown as vscode.Webview;
  const root = vscode.Uri.file('/ext');

  test('the CSP allows only nonce\'d scripts, no eval, no inline handlers, nothing remote', () => {
    const csp = contentSecurityPolicy(fake.cspSource, 'abc');
    const dir = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    assert.deepStrictEqual(dir['default-src'], ["'none'"]);
    assert.deepStrictEqual(dir['script-src'], ["'nonce-abc'"]);
    assert.ok(!/unsafe-(eval|inline)|\*|https?:(?!\/\/example)/.test(csp), csp);
  });

  test('every script of the page carries the nonce of its CSP; nonces differ per page', () => {
    const html = webviewHtml(fake, root, 'report', 'STaR Report');
    const nonce = /'nonce-([^']+)'/.exec(html)![1];
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
    assert.ok(scripts.length > 0);
    for (const s of scripts) assert.ok(s.includes(`nonce="${nonce}"`), s);
    assert.ok(!/\son[a-z]+=/i.test(html), 'no inline event handlers');
    assert.notStrictEqual(/'nonce-([^']+)'/.exec(webviewHtml(fake, root, 'report', 'x'))![1], nonce);
  });

  test('local resources are limited to dist/webview and media', () => {
    const o = webviewOptions(root);
    assert.deepStrictEqual(o.localResourceRoots!.map((u) => u.path), ['/ext/dist/webview', '/ext/media']);
  });
});
