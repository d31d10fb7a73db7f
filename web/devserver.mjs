// A development server for the front end alone (not used by inferd or its tests): serves web/dist under
// /ui/, fakes the session routes of web-contract.md (one in-memory session, CSRF checked on writes), and
// forwards /apis, /api and /inferd to a running `inferd serve` with its bearer token.
//   node web/devserver.mjs --api http://127.0.0.1:8090 --token-file DATA_DIR/token [--port 8095]
import http from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join, extname, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (i % 2 ? a : [...a, [v.replace(/^--/, ''), all[i + 1]]]), []));
const api = new URL(args.api || 'http://127.0.0.1:8090');
const token = readFileSync(args['token-file'], 'utf8').trim();
const dist = join(dirname(fileURLToPath(import.meta.url)), 'dist');
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.txt': 'text/plain' };
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const gateway = args.gateway ? new URL(args.gateway) : null;  // the proxy endpoint, through the gateway's /serving/{ns}/{name}/ paths
const sessions = new Map();  // cookie -> csrf

const cookieOf = (req) => ((req.headers.cookie || '').match(/inferd_session=([^;]+)/) || [])[1];
const json = (res, code, body, headers = {}) => { res.writeHead(code, { 'Content-Type': 'application/json', ...headers }); res.end(JSON.stringify(body)); };

http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const sess = sessions.get(cookieOf(req));
  if (url.pathname === '/') { res.writeHead(302, { Location: '/ui/' }); return res.end(); }
  if (url.pathname === '/ui/session') return json(res, 200, sess ? { authenticated: true, tokenRequired: true, csrf: sess } : { authenticated: false, tokenRequired: true });
  if (url.pathname === '/ui/login' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      let t = '';
      try { t = JSON.parse(body).token; } catch { /* empty */ }
      if (t !== token) return json(res, 401, { kind: 'Status', code: 401, message: 'Unauthorized' });
      const id = randomBytes(32).toString('base64url');
      const csrf = randomBytes(32).toString('base64url');
      sessions.set(id, csrf);
      return json(res, 200, { csrf }, { 'Set-Cookie': `inferd_session=${id}; Path=/; HttpOnly; SameSite=Strict` });
    });
    return undefined;
  }
  if (url.pathname === '/ui/logout') { sessions.delete(cookieOf(req)); res.writeHead(204); return res.end(); }
  if (url.pathname.startsWith('/ui')) {
    let f = join(dist, url.pathname.slice(3));
    if (!existsSync(f) || !extname(f)) f = join(dist, 'index.html');
    res.writeHead(200, { 'Content-Type': TYPES[extname(f)] || 'application/octet-stream', 'Cache-Control': 'no-cache', 'Content-Security-Policy': CSP });
    return res.end(readFileSync(f));
  }
  if (!sess) return json(res, 401, { kind: 'Status', code: 401, message: 'Unauthorized' });
  if (req.method !== 'GET' && req.headers['x-csrf-token'] !== sess) return json(res, 403, { kind: 'Status', code: 403, message: 'CSRF token missing or wrong' });
  const headers = { ...req.headers, authorization: `Bearer ${token}`, host: api.host };
  delete headers.cookie;
  let target = api;
  let path = req.url;
  const pm = url.pathname.match(/^\/inferd\/v1\/namespaces\/([^/]+)\/inferenceservices\/([^/]+)\/proxy\/(.*)$/);
  if (pm && gateway) { target = gateway; path = `/serving/${pm[1]}/${pm[2]}/${pm[3]}`; headers.host = gateway.host; delete headers.authorization; }
  const up = http.request({ host: target.hostname, port: target.port, path, method: req.method, headers }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on('error', (e) => json(res, 502, { message: String(e) }));
  req.pipe(up);
  res.on('close', () => up.destroy());
}).listen(Number(args.port || 8095), '127.0.0.1', () => console.log(`dev server on http://127.0.0.1:${args.port || 8095}/ui/`));
