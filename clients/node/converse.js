#!/usr/bin/env node
// A Switchboard channel service in Node.js: open one RouterService.Converse stream, send the
// customer's messages as turns one after another, and render every event that comes back.
//
//   node converse.js [--router 127.0.0.1:50051] [--session ID] [--customer-id C-1001]
//                    [--tls] ["first message" "second message" ...]
//
// The protos are loaded at run time from protos/ (and google/api/*.proto from
// build/third_party/proto, which `make setup` fills); set SWITCHBOARD_PROTO_PATH to a
// colon-separated list of folders to load them from elsewhere. Exit status: 0 when every turn
// completed, 1 when a turn ended with an error event, 2 when the call itself failed.
'use strict';

const crypto = require('node:crypto');
const path = require('node:path');
const { parseArgs } = require('node:util');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const REPO = path.resolve(__dirname, '..', '..');
const DEFAULT_PROTO_PATH = [
  path.join(REPO, 'protos'),
  path.join(REPO, 'build', 'third_party', 'proto'),
];
const DEFAULT_MESSAGES = ['Is flight UA 123 on time?', 'Thanks!'];

function loadRouterService(protoPath) {
  const definition = protoLoader.loadSync('switchboard/v1/router.proto', {
    includeDirs: protoPath,
    keepCase: true, // field names as in the .proto: turn_started, session_id
    longs: String,
    enums: String, // enum values by name: FALLBACK_REASON_LOW_CONFIDENCE
    defaults: true,
    oneofs: true, // event.event names the field of the oneof that is set
  });
  return grpc.loadPackageDefinition(definition).switchboard.v1.RouterService;
}

// google.protobuf.Struct and Value as plain JavaScript values.
function structToObject(struct) {
  const out = {};
  for (const [key, value] of Object.entries((struct && struct.fields) || {})) {
    out[key] = valueToJs(value);
  }
  return out;
}

function valueToJs(value) {
  switch (value.kind) {
    case 'nullValue':
      return null;
    case 'structValue':
      return structToObject(value.structValue);
    case 'listValue':
      return (value.listValue.values || []).map(valueToJs);
    default:
      return value[value.kind];
  }
}

function args(struct) {
  return Object.entries(structToObject(struct))
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : value}`)
    .join(', ');
}

function ms(duration) {
  if (!duration) return '0 ms';
  return `${Math.round(Number(duration.seconds) * 1000 + duration.nanos / 1e6)} ms`;
}

function lower(name, prefix) {
  return String(name).replace(prefix, '').toLowerCase();
}

// Renders events as they arrive; a turn's reply streams onto one line.
class Renderer {
  constructor(out) {
    this.out = out;
    this.inReply = false;
  }

  line(text) {
    if (this.inReply) {
      this.out.write('\n');
      this.inReply = false;
    }
    this.out.write(`${text}\n`);
  }

  show(event) {
    const tag = `[${event.turn_id}]`;
    switch (event.event) {
      case 'turn_started':
        this.line(`${tag} · turn started · session ${event.turn_started.session_id} · trace ${event.trace_id}`);
        break;
      case 'intent': {
        const i = event.intent;
        this.line(`${tag} · intent   ${i.name} (${i.confidence.toFixed(2)})`);
        break;
      }
      case 'policy': {
        const p = event.policy;
        const stage = lower(p.stage, 'POLICY_STAGE_');
        const action = lower(p.action, 'POLICY_ACTION_');
        this.line(`${tag} · policy   ${stage} ${action} (${p.rule_id})${p.reason ? `: ${p.reason}` : ''}`);
        break;
      }
      case 'plan': {
        const plan = event.plan.plan;
        const steps = plan.steps.map((s) => `${s.id}=${s.tool}(${args(s.arguments)})`).join('; ');
        this.line(`${tag} · plan     ${plan.flow} [${plan.tier}] ${steps}`.trimEnd());
        break;
      }
      case 'step_started': {
        const s = event.step_started;
        this.line(`${tag}   → ${s.step_id} ${s.tool}(${args(s.arguments)})`);
        break;
      }
      case 'step_finished': {
        const r = event.step_finished.result;
        const status = r.http_status ? ` HTTP ${r.http_status}` : '';
        this.line(`${tag}   ← ${r.step_id} ${r.tool} ${lower(r.outcome, 'STEP_OUTCOME_')}${status} in ${ms(r.latency)}${r.error ? `: ${r.error}` : ''}`);
        break;
      }
      case 'text_delta':
        if (!this.inReply) {
          this.out.write(`${tag} assistant: `);
          this.inReply = true;
        }
        this.out.write(event.text_delta.text);
        break;
      case 'rich_media': {
        const m = event.rich_media;
        this.line(`${tag} · [${lower(m.kind, 'MEDIA_KIND_')}] ${m.title} ${m.uri}`.trimEnd());
        break;
      }
      case 'fallback': {
        const f = event.fallback;
        this.line(`${tag} · fallback ${lower(f.reason, 'FALLBACK_REASON_')} → ${lower(f.action, 'FALLBACK_ACTION_')}: ${f.detail}`);
        break;
      }
      case 'handoff':
        this.line(`${tag} · handoff  → ${event.handoff.queue}: ${event.handoff.reason}`);
        break;
      case 'turn_completed': {
        const c = event.turn_completed;
        const usage = c.usage || { input_tokens: '0', output_tokens: '0' };
        const tokens = Number(usage.input_tokens) + Number(usage.output_tokens);
        this.line(`${tag} · completed in ${ms(c.latency)} · ${tokens} tokens`);
        break;
      }
      case 'error':
        this.line(`${tag} · error ${event.error.code}: ${event.error.message}`);
        break;
      default:
        this.line(`${tag} · (an event this client does not know: ${event.event})`);
    }
  }
}

// Sends the messages as turns on one Converse stream, each after the previous one ended.
// Resolves with the number of turns that ended with an error event.
function converse(client, { sessionId, customerId, messages, deadlineSeconds }, renderer) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + deadlineSeconds * 1000);
    const call = client.Converse({ deadline });
    let next = 0;
    let failedTurns = 0;

    const sendNext = () => {
      if (next >= messages.length) {
        call.end(); // half-close: no more turns; the router ends the stream after the last one
        return;
      }
      const turnId = `turn-${next + 1}`;
      renderer.line(`you [${turnId}]: ${messages[next]}`);
      call.write({
        turn: {
          turn_id: turnId,
          session_id: sessionId,
          text: messages[next],
          channel: 'node-example',
          customer_id: customerId,
        },
      });
      next += 1;
    };

    call.on('data', (response) => {
      const event = response.event;
      renderer.show(event);
      if (event.event === 'error') failedTurns += 1;
      if (event.event === 'turn_completed' || event.event === 'error') sendNext();
    });
    call.on('error', reject);
    call.on('end', () => resolve(failedTurns));
    sendNext();
  });
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      router: { type: 'string', default: process.env.SWITCHBOARD_ROUTER || '127.0.0.1:50051' },
      session: { type: 'string', default: `node-${crypto.randomUUID().slice(0, 8)}` },
      'customer-id': { type: 'string', default: '' },
      tls: { type: 'boolean', default: false },
      deadline: { type: 'string', default: '60' },
    },
  });
  const protoPath = process.env.SWITCHBOARD_PROTO_PATH
    ? process.env.SWITCHBOARD_PROTO_PATH.split(path.delimiter)
    : DEFAULT_PROTO_PATH;
  const RouterService = loadRouterService(protoPath);
  const credentials = values.tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
  const client = new RouterService(values.router, credentials);
  const renderer = new Renderer(process.stdout);
  renderer.line(`session ${values.session} on ${values.router}`);
  try {
    const failedTurns = await converse(
      client,
      {
        sessionId: values.session,
        customerId: values['customer-id'],
        messages: positionals.length ? positionals : DEFAULT_MESSAGES,
        deadlineSeconds: Number(values.deadline),
      },
      renderer,
    );
    return failedTurns ? 1 : 0;
  } catch (error) {
    const code = Object.keys(grpc.status).find((name) => grpc.status[name] === error.code);
    process.stderr.write(`error: ${code || error.code}: ${error.details || error.message}\n`);
    return 2;
  } finally {
    client.close();
  }
}

main().then((code) => {
  process.exitCode = code;
});
