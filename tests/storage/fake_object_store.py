#!/usr/bin/python3
"""A small object store for the storage tests (stdlib only; /token also needs python3-cryptography).

Serves, from one port, files under a root directory:
  /http/<path>                     plain HTTP GET of <root>/http/<path> (404 when missing; /http/__500 -> 500)
  /storage/v1/b/<bucket>/o?prefix= GCS JSON API listing of <root>/gcs/<bucket>/ (pageToken pagination)
  /storage/v1/b/<bucket>/o/<obj>?alt=media   GCS media download
  /<bucket>/<key>                  S3 GetObject, path-style, from <root>/s3/<bucket>/<key>
  /<bucket>?list-type=2&...        S3 ListObjectsV2 (prefix, continuation-token, max-keys)
  POST /token                      OAuth2 JWT-bearer grant for service-account keys: the assertion must be an
                                   RS256 JWT signed by <root>/gcs-sa/pubkey.pem (PEM), with aud = this URL,
                                   the devstorage.read_only scope and an unexpired exp; answers
                                   {"access_token": --gcs-sa-token} (401 otherwise). Needs python3-cryptography.
  /malformed?list-type=2           the S3 listing of a bucket named "malformed" is cut short (its directory
                                   must exist under <root>/s3/)
  /__stats                         {"requests": N, "paths": [...]} (not counted)
  /__reset                         zeroes the counters (not counted)

Every S3 request must carry a valid AWS Signature Version 4 (Authorization header) made with
--access-key/--secret/--region: the canonical request and string to sign are recomputed here and a
mismatch answers 403 SignatureDoesNotMatch, like S3. GCS buckets named with --gcs-private BUCKET=TOKEN need
"Authorization: Bearer TOKEN" (401 otherwise); other GCS buckets are public. A private bucket's TOKEN
may be the one /token hands out for a service-account key.

Prints the port it listens on (one line) and serves until killed.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

ARGS = None
LOCK = threading.Lock()
COUNT = {"requests": 0, "paths": []}


def list_files(base):
    """All regular files under base, as sorted '/'-joined relative names."""
    out = []
    for dirpath, _, files in os.walk(base):
        for f in files:
            full = os.path.join(dirpath, f)
            out.append(os.path.relpath(full, base).replace(os.sep, "/"))
    return sorted(out)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def hmac_sha256(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def aws_quote(s, safe):
    return urllib.parse.quote(s, safe=safe)  # leaves A-Za-z0-9-_.~ and `safe`, hex upper case


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet; the test prints what it needs
        if os.environ.get("FAKE_STORE_VERBOSE"):
            sys.stderr.write("fake_object_store: " + (fmt % args) + "\n")

    # ---- helpers -------------------------------------------------------------------------------
    def send(self, code, body=b"", ctype="application/octet-stream"):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def s3_error(self, code, s3code, message):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>'
                % (s3code, escape(message)))
        self.send(code, body, "application/xml")

    def send_file(self, path):
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            data = f.read()
        self.send(200, data)
        return True

    # ---- dispatch ------------------------------------------------------------------------------
    def do_GET(self):
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path == "/__stats":
            with LOCK:
                return self.send(200, json.dumps(COUNT), "application/json")
        if raw_path == "/__reset":
            with LOCK:
                COUNT["requests"] = 0
                COUNT["paths"] = []
            return self.send(200, "{}", "application/json")
        self.count()
        if raw_path.startswith("/http/"):
            return self.plain(raw_path[len("/http/"):])
        if raw_path.startswith("/storage/v1/b/"):
            return self.gcs(raw_path[len("/storage/v1/b/"):], raw_query)
        return self.s3(raw_path, raw_query)

    def count(self):
        with LOCK:
            COUNT["requests"] += 1
            COUNT["paths"].append(self.path)

    def do_POST(self):
        self.count()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        if self.path != "/token":
            return self.send(404, "not found", "text/plain")
        form = dict(urllib.parse.parse_qsl(body))
        err = self.check_jwt(form)
        if err:
            return self.send(401, json.dumps({"error": "invalid_grant", "error_description": err}),
                             "application/json")
        return self.send(200, json.dumps({"access_token": ARGS.gcs_sa_token, "expires_in": 3599,
                                          "token_type": "Bearer"}), "application/json")

    def check_jwt(self, form):
        """None when the JWT-bearer grant is valid, else why not."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return "bad grant_type"
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            return "the assertion is not a JWT"

        def unb64(s):
            return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

        try:
            header, claims, sig = json.loads(unb64(parts[0])), json.loads(unb64(parts[1])), unb64(parts[2])
        except Exception:  # noqa: BLE001
            return "the assertion does not decode"
        if header.get("alg") != "RS256":
            return "alg is not RS256"
        try:
            with open(os.path.join(ARGS.root, "gcs-sa", "pubkey.pem"), "rb") as f:
                pub = serialization.load_pem_public_key(f.read())
            pub.verify(sig, (parts[0] + "." + parts[1]).encode(), padding.PKCS1v15(), hashes.SHA256())
        except (OSError, InvalidSignature, ValueError):
            return "Invalid JWT Signature."
        url = "http://%s/token" % self.headers.get("Host")
        if claims.get("aud") != url:
            return "aud %r is not %r" % (claims.get("aud"), url)
        if claims.get("scope") != "https://www.googleapis.com/auth/devstorage.read_only":
            return "unexpected scope"
        now = datetime.datetime.now(datetime.timezone.utc).timestamp()
        if not (claims.get("iat", 0) - 300 <= now < claims.get("exp", 0)) or claims["exp"] - claims["iat"] > 3600:
            return "the assertion is expired or lasts too long"
        if not claims.get("iss"):
            return "no iss"
        return None

    def plain(self, rel):
        rel = urllib.parse.unquote(rel)
        if rel == "__500":
            return self.send(500, "internal error", "text/plain")
        if rel.startswith("__redirect/"):
            self.send_response(302)
            self.send_header("Location", "/http/" + rel[len("__redirect/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        path = os.path.join(ARGS.root, "http", rel)
        if ".." in rel.split("/") or not self.send_file(path):
            self.send(404, "not found", "text/plain")
        return None

    # ---- GCS -----------------------------------------------------------------------------------
    def gcs(self, rest, raw_query):
        parts = rest.split("/")
        bucket = urllib.parse.unquote(parts[0])
        query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        tokens = dict(b.split("=", 1) for b in ARGS.gcs_private)
        if bucket in tokens:
            if self.headers.get("Authorization") != "Bearer " + tokens[bucket]:
                return self.send(401, json.dumps({"error": {"code": 401, "message": "Anonymous caller"}}),
                                 "application/json")
        base = os.path.join(ARGS.root, "gcs", bucket)
        if not os.path.isdir(base):
            return self.send(404, json.dumps({"error": {"code": 404, "message": "bucket not found"}}),
                             "application/json")
        if len(parts) == 2 and parts[1] == "o":  # list
            prefix = query.get("prefix", "")
            names = [n for n in list_files(base) if n.startswith(prefix)]
            start = int(query.get("pageToken") or 0)
            page = names[start:start + ARGS.page_size]
            out = {"kind": "storage#objects",
                   "items": [{"kind": "storage#object", "name": n, "bucket": bucket,
                              "size": str(os.path.getsize(os.path.join(base, n)))} for n in page]}
            if start + ARGS.page_size < len(names):
                out["nextPageToken"] = str(start + ARGS.page_size)
            return self.send(200, json.dumps(out), "application/json")
        if len(parts) == 3 and parts[1] == "o":
            name = urllib.parse.unquote(parts[2])
            if query.get("alt") != "media":
                return self.send(400, "only alt=media", "text/plain")
            if ".." in name.split("/") or not self.send_file(os.path.join(base, name)):
                return self.send(404, json.dumps({"error": {"code": 404, "message": "No such object"}}),
                                 "application/json")
            return None
        return self.send(400, "unsupported", "text/plain")

    # ---- S3 ------------------------------------------------------------------------------------
    def check_sigv4(self, raw_path, raw_query):
        """None when the request's SigV4 signature is valid, else (http code, S3 code, message)."""
        auth = self.headers.get("Authorization")
        if not auth:
            return (403, "AccessDenied", "anonymous access is not allowed")
        m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                     r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$", auth)
        if not m:
            return (400, "AuthorizationHeaderMalformed", "cannot parse " + auth)
        key, date, region, service, signed_headers, signature = m.groups()
        if key != ARGS.access_key:
            return (403, "InvalidAccessKeyId", "unknown access key " + key)
        if region != ARGS.region or service != "s3":
            return (400, "AuthorizationHeaderMalformed", "scope %s/%s" % (region, service))
        amz_date = self.headers.get("x-amz-date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return (403, "AccessDenied", "bad x-amz-date " + amz_date)
        if not amz_date.startswith(date):
            return (403, "SignatureDoesNotMatch", "credential date differs from x-amz-date")
        if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900:
            return (403, "RequestTimeTooSkewed", "x-amz-date too far from now")
        payload_hash = self.headers.get("x-amz-content-sha256")
        if payload_hash is None:
            return (400, "InvalidRequest", "missing x-amz-content-sha256")
        if payload_hash != "UNSIGNED-PAYLOAD" and payload_hash != sha256_hex(b""):
            return (400, "XAmzContentSHA256Mismatch", "payload hash of a GET must be that of no body")
        names = signed_headers.split(";")
        if names != sorted(names) or "host" not in names or "x-amz-date" not in names:
            return (403, "SignatureDoesNotMatch", "signed headers " + signed_headers)
        canon_headers = ""
        for h in names:
            v = self.headers.get(h)
            if v is None:
                return (403, "SignatureDoesNotMatch", "signed header %s missing" % h)
            canon_headers += "%s:%s\n" % (h, " ".join(v.strip().split()))
        canon_uri = aws_quote(urllib.parse.unquote(raw_path), "/")
        pairs = []
        for item in raw_query.split("&") if raw_query else []:
            k, _, v = item.partition("=")
            pairs.append((aws_quote(urllib.parse.unquote(k), ""), aws_quote(urllib.parse.unquote(v), "")))
        canon_query = "&".join("%s=%s" % kv for kv in sorted(pairs))
        canonical_request = "\n".join(["GET", canon_uri, canon_query, canon_headers, signed_headers, payload_hash])
        scope = "%s/%s/s3/aws4_request" % (date, region)
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                                    sha256_hex(canonical_request.encode("utf-8"))])
        k = hmac_sha256(("AWS4" + ARGS.secret).encode("utf-8"), date)
        k = hmac_sha256(k, region)
        k = hmac_sha256(k, "s3")
        k = hmac_sha256(k, "aws4_request")
        expected = hmac.new(k, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return (403, "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided.")
        return None

    def s3(self, raw_path, raw_query):
        err = self.check_sigv4(raw_path, raw_query)
        if err:
            return self.s3_error(*err)
        path = urllib.parse.unquote(raw_path)
        bucket, _, key = path.lstrip("/").partition("/")
        base = os.path.join(ARGS.root, "s3", bucket)
        if not bucket or not os.path.isdir(base):
            return self.s3_error(404, "NoSuchBucket", "The specified bucket does not exist")
        query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        if not key and bucket == "malformed":  # a listing cut short in the middle of an object
            return self.send(200, '<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated>'
                             "<Contents><Key>m/a.bin</Key><Size>1", "application/xml")
        if not key:
            if query.get("list-type") != "2":
                return self.s3_error(400, "InvalidArgument", "only ListObjectsV2")
            return self.s3_list(bucket, base, query)
        if ".." in key.split("/") or not self.send_file(os.path.join(base, key)):
            return self.s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return None

    def s3_list(self, bucket, base, query):
        prefix = query.get("prefix", "")
        max_keys = min(int(query.get("max-keys", "1000")), ARGS.page_size)
        keys = [k for k in list_files(base) if k.startswith(prefix)]
        start = 0
        token = query.get("continuation-token")
        if token:
            # An opaque token (base64 with '=' padding and '+', '/', so it must be encoded in the query).
            try:
                start = int(base64.b64decode(token.encode()).decode().split(":")[1])
            except Exception:  # noqa: BLE001
                return self.s3_error(400, "InvalidArgument", "bad continuation token")
        page = keys[start:start + max_keys]
        truncated = start + max_keys < len(keys)
        xml = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
               "<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>%d</MaxKeys>"
               % (escape(bucket), escape(prefix), len(page), max_keys),
               "<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false")]
        if token:
            xml.append("<ContinuationToken>%s</ContinuationToken>" % escape(token))
        if truncated:
            nxt = base64.b64encode(("page+/:%d:%s" % (start + max_keys, "x" * (start % 3))).encode()).decode()
            xml.append("<NextContinuationToken>%s</NextContinuationToken>" % escape(nxt))
        for k in page:
            xml.append("<Contents><Key>%s</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
                       "<ETag>&quot;0&quot;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                       % (escape(k), os.path.getsize(os.path.join(base, k))))
        xml.append("</ListBucketResult>")
        return self.send(200, "".join(xml), "application/xml")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that aborts a download (the max_bytes tests) resets the connection: not worth a trace.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--access-key", default="AKIDEXAMPLE")
    p.add_argument("--secret", default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--gcs-private", action="append", default=[], help="BUCKET=TOKEN")
    p.add_argument("--gcs-sa-token", default="ya29.service-account-token",
                   help="the token /token hands out for a valid service-account JWT")
    ARGS = p.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
