// send-cloudevents.mjs: sends CloudEvents built by the official JavaScript SDK (cloudevents)
// to a gateway, for tests/integration/test_cloudevents.py.
//   node send-cloudevents.mjs URL MODE EXPECTED_STATUS EVENTS_JSON
// MODE: binary | structured (one event, the SDK's HTTP.binary / HTTP.structured through its
// emitterFor) | batch (the events serialised by the SDK, sent as
// application/cloudevents-batch+json: the SDK reads batches but has no batch emitter).
// EVENTS_JSON: a JSON array of event attributes ({type, source, data, ...}); the SDK fills
// id, time and specversion. Prints {"status": N, "body": "..."} and exits 1 on another status.
import http from "node:http";
import { CloudEvent, CONSTANTS, emitterFor, HTTP, Mode } from "cloudevents";

const [url, mode, expected, eventsJson] = process.argv.slice(2);
if (!url || !mode || !expected || !eventsJson) {
    console.error("usage: send-cloudevents.mjs URL binary|structured|batch EXPECTED_STATUS EVENTS_JSON");
    process.exit(2);
}
const target = new URL(url);
if (!["127.0.0.1", "localhost", "[::1]"].includes(target.hostname)) {
    console.error("send-cloudevents.mjs: loopback URLs only");
    process.exit(2);
}
const events = JSON.parse(eventsJson).map((attrs) => new CloudEvent(attrs));

// The SDK's own httpTransport resolves with the body and headers but not the status code,
// which the tests check: this transport is the same request, keeping the status.
function transport(message) {
    return new Promise((resolve, reject) => {
        const req = http.request(target, { method: "POST", headers: message.headers }, (res) => {
            let body = "";
            res.setEncoding("utf-8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode, body }));
        });
        req.on("error", reject);
        req.end(message.body);
    });
}

let response;
if (mode === "binary" || mode === "structured") {
    if (events.length !== 1) throw new Error(`${mode} mode sends one event, got ${events.length}`);
    const emit = emitterFor(transport, { binding: HTTP, mode: mode === "binary" ? Mode.BINARY : Mode.STRUCTURED });
    response = await emit(events[0]);
} else if (mode === "batch") {
    response = await transport({
        headers: { "content-type": CONSTANTS.MIME_CE_BATCH },
        body: JSON.stringify(events.map((e) => e.toJSON())),
    });
} else {
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
console.log(JSON.stringify(response));
process.exit(String(response.status) === expected ? 0 : 1);
