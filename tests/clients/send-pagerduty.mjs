// send-pagerduty.mjs: sends an event with the official PagerDuty JavaScript client
// (@pagerduty/pdjs) to a gateway, for tests/integration/test_pagerduty.py.
//   node send-pagerduty.mjs PORT ACTION DATA_JSON [HEADERS_JSON]
// ACTION: trigger | acknowledge | resolve (pdjs's shorthands, which set event_action),
// event (pdjs's event(): DATA_JSON sent as it is) or change (pdjs's change(): a Change
// Event to /v2/change/enqueue). Prints {"status": N, "body": {...}}.
//
// pdjs's `server` option names the host but the scheme is fixed: it always requests
// https://<server>/v2/enqueue (or /v2/change/enqueue). The gateway under test speaks plain HTTP, so this script
// passes server "127.0.0.1:PORT" and turns pdjs's HTTPS request for that loopback host into
// the same request over HTTP (node-fetch, under pdjs's cross-fetch, calls https.request at
// request time). Everything else (URL path, headers, body, JSON parsing) is pdjs's own.
import http from "node:http";
import { createRequire } from "node:module";
import { event, trigger, acknowledge, resolve, change } from "@pagerduty/pdjs";

const require = createRequire(import.meta.url);
const https = require("node:https");

const [port, action, dataJson, headersJson] = process.argv.slice(2);
if (!port || !action || !dataJson) {
    console.error("usage: send-pagerduty.mjs PORT trigger|acknowledge|resolve|event|change DATA_JSON [HEADERS_JSON]");
    process.exit(2);
}
const server = `127.0.0.1:${Number(port)}`;

const httpsRequest = https.request;
https.request = function (options, cb) {
    const host = options.hostname || options.host;
    if (host !== "127.0.0.1" || String(options.port) !== String(Number(port))) return httpsRequest.apply(this, arguments);
    const { agent, protocol, ...rest } = options;   // an https.Agent cannot carry plain HTTP
    return http.request({ ...rest, protocol: "http:" }, cb);
};

const fns = { event, trigger, acknowledge, resolve, change };
const fn = fns[action];
if (!fn) {
    console.error(`send-pagerduty.mjs: unknown action ${action}`);
    process.exit(2);
}
const params = { server, data: JSON.parse(dataJson) };
if (headersJson) params.headers = JSON.parse(headersJson);
try {
    const r = await fn(params);
    console.log(JSON.stringify({ status: r.status, body: r.data, retryAfter: r.headers.get("retry-after") }));
} catch (e) {
    console.error(`send-pagerduty.mjs: ${e.stack || e}`);
    process.exit(1);
}
