// One XMPP-over-WebSocket client (@xmpp/client) driven by tests/scenarios/test_xmpp_websocket.py.
// argv: service domain username password resource
// stdout: one JSON object per line: {"online": jid} | {"stanza": xml} | {"error": text, "condition": c} | {"offline": true}
// stdin: one JSON object per line: {"send": "<raw xml>"} writes one WebSocket message; {"stop": true} logs out.
import { client } from "@xmpp/client";
import readline from "node:readline";

// @xmpp/websocket uses the global WebSocket (Node >= 22, or Node 20 with --experimental-websocket).
if (typeof globalThis.WebSocket === "undefined") {
  process.stdout.write(JSON.stringify({ error: "no global WebSocket: run node with --experimental-websocket", failed: true }) + "\n");
  process.exit(0);
}

const [service, domain, username, password, resource] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const xmpp = client({ service, domain, username, password, resource });
xmpp.reconnect.stop();
xmpp.on("error", (err) => out({ error: String(err), condition: err.condition || null }));
xmpp.on("offline", () => {
  out({ offline: true });
  process.exit(0);
});
xmpp.on("stanza", (stanza) => out({ stanza: stanza.toString() }));
xmpp.on("online", (jid) => out({ online: jid.toString() }));

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line);
  try {
    if (cmd.send) await xmpp.write(cmd.send);
    if (cmd.stop) await xmpp.stop();
  } catch (err) {
    out({ error: String(err), condition: null });
  }
});

xmpp.start().catch((err) => {
  out({ error: String(err), condition: err.condition || null, failed: true });
  process.exit(0);
});
