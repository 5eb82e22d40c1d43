#!/usr/bin/env node
// vibe grpc-web test client
// =========================
//
// What: a small command-line grpc-web client built on Connect for Node
// (@connectrpc/connect + @connectrpc/connect-node, protobuf runtime @bufbuild/protobuf v2).
// It makes ONE call to a vibe gateway and prints ONE line of JSON on stdout.
//
// Why: tests/grpc_web.rs must prove that a real grpc-web client, written by someone else
// and from outside this project, can talk to the gateway: a browser cockpit speaks grpc-web,
// and testing the gateway only with our own Rust encoder would test our reading of the
// protocol against itself. This is the same client library a browser app would use (the Node
// transport speaks the same wire format as the browser's fetch transport).
//
// No code generation: the service definitions are loaded at run time from a binary
// FileDescriptorSet (imports included), e.g. `buf build --as-file-descriptor-set -o set.binpb`
// (a plain `buf build` Image is accepted too: it is wire-compatible with a FileDescriptorSet).
//
// Install: `npm ci` in this folder (package-lock.json is committed; versions are pinned).
//
// Usage:
//   node client.mjs --base http://127.0.0.1:PORT --descriptors /path/set.binpb \
//     --service vibe.integration.v1.DashboardService --method GetDashboard \
//     [--request '{json}'] [--token JWT] [--http 1.1|2] [--messages N] [--origin https://x] \
//     [--header 'name: value' ...] [--timeout-ms N]
//
//   --request     the request message as proto3 JSON (default {}).
//   --token       sent as `authorization: Bearer <token>`.
//   --origin      sent as the `origin` header (CORS checks).
//   --header      any extra request header, repeatable.
//   --http        HTTP version of the transport: "1.1" (default) or "2" (h2c on http://).
//   --messages    server streaming only: read up to N messages (default 1), then cancel the
//                 call with an AbortController and stop cleanly.
//   --timeout-ms  deadline of the call (sent as grpc-timeout); none by default.
//
// Output (exactly one JSON line on stdout, exit code 0):
//   success: {"ok":true,"messages":[<proto3 JSON of each response>],"headers":{...},"trailers":{...}}
//            (header names are lowercase; a server stream cancelled after N messages has no
//            trailers, so "trailers" is {} then)
//   failure: {"ok":false,"code":16,"codeName":"unauthenticated","message":"...",
//            "details":[{"type":"google.rpc.RetryInfo","value":{"retryDelay":"1.500s"},
//                        "retryDelaySeconds":1.5}],"headers":{...}}
//            "headers" holds the error's metadata (response headers and trailers merged), plus
//            the response headers already received when a server stream fails after its start
//            (then "messages" holds the messages received before the error).
//            Each detail has its "type"; "value" is its proto3 JSON when the type is known
//            (google.rpc.RetryInfo, ErrorInfo and BadRequest are built in, anything else is
//            looked up in the descriptor set), otherwise "valueBase64" holds its bytes.
// Exit code 2 (message on stderr, nothing on stdout): bad arguments, unreadable descriptors,
// unknown service or method, or no connection to the server at all (refused, unresolvable).

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  create,
  createFileRegistry,
  fromBinary,
  fromJson,
  toJson,
} from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_duration,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { Http2SessionManager, createGrpcWebTransport } from "@connectrpc/connect-node";

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// Arguments

function parseCli(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        base: { type: "string" },
        descriptors: { type: "string" },
        service: { type: "string" },
        method: { type: "string" },
        request: { type: "string", default: "{}" },
        token: { type: "string" },
        http: { type: "string", default: "1.1" },
        messages: { type: "string", default: "1" },
        origin: { type: "string" },
        header: { type: "string", multiple: true, default: [] },
        "timeout-ms": { type: "string" },
      },
    }));
  } catch (e) {
    throw new UsageError(e.message);
  }
  for (const name of ["base", "descriptors", "service", "method"]) {
    if (values[name] === undefined || values[name] === "") {
      throw new UsageError(`--${name} is required`);
    }
  }
  let base;
  try {
    base = new URL(values.base);
  } catch {
    throw new UsageError(`--base is not a URL: ${values.base}`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new UsageError(`--base must be http:// or https://, got ${values.base}`);
  }
  if (values.http !== "1.1" && values.http !== "2") {
    throw new UsageError(`--http must be 1.1 or 2, got ${values.http}`);
  }
  if (!/^[1-9][0-9]*$/.test(values.messages)) {
    throw new UsageError(`--messages must be a positive integer, got ${values.messages}`);
  }
  let timeoutMs;
  if (values["timeout-ms"] !== undefined) {
    if (!/^[1-9][0-9]*$/.test(values["timeout-ms"])) {
      throw new UsageError(`--timeout-ms must be a positive integer, got ${values["timeout-ms"]}`);
    }
    timeoutMs = Number(values["timeout-ms"]);
  }
  const headers = new Headers();
  for (const h of values.header) {
    const i = h.indexOf(":");
    if (i <= 0) {
      throw new UsageError(`--header must be 'name: value', got ${h}`);
    }
    headers.append(h.slice(0, i).trim(), h.slice(i + 1).trim());
  }
  if (values.token !== undefined) {
    headers.set("authorization", `Bearer ${values.token}`);
  }
  if (values.origin !== undefined) {
    headers.set("origin", values.origin);
  }
  let requestJson;
  try {
    requestJson = JSON.parse(values.request);
  } catch (e) {
    throw new UsageError(`--request is not JSON: ${e.message}`);
  }
  return {
    baseUrl: values.base,
    descriptors: values.descriptors,
    service: values.service,
    method: values.method,
    requestJson,
    headers,
    httpVersion: values.http,
    maxMessages: Number(values.messages),
    timeoutMs,
  };
}

// ---------------------------------------------------------------------------------------------
// Descriptors

function loadRegistry(path) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read --descriptors ${path}: ${e.message}`);
  }
  try {
    // A buf Image parses as a FileDescriptorSet too (same field 1; buf's extra per-file
    // field is kept as an unknown field and ignored).
    const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(bytes));
    return createFileRegistry(set);
  } catch (e) {
    throw new UsageError(`--descriptors ${path} is not a usable FileDescriptorSet: ${e.message}`);
  }
}

// The google.rpc error details a gateway is expected to send, described by hand (a subset of
// google/rpc/error_details.proto with the same names and numbers) so that they decode even when
// the descriptor set does not include them.
function builtinErrorDetailsRegistry() {
  const OPTIONAL = 1;
  const REPEATED = 3;
  const STRING = 9;
  const MESSAGE = 11;
  const file = create(FileDescriptorProtoSchema, {
    name: "google/rpc/error_details.proto",
    package: "google.rpc",
    syntax: "proto3",
    dependency: ["google/protobuf/duration.proto"],
    messageType: [
      {
        name: "RetryInfo",
        field: [
          {
            name: "retry_delay",
            jsonName: "retryDelay",
            number: 1,
            label: OPTIONAL,
            type: MESSAGE,
            typeName: ".google.protobuf.Duration",
          },
        ],
      },
      {
        name: "ErrorInfo",
        field: [
          { name: "reason", jsonName: "reason", number: 1, label: OPTIONAL, type: STRING },
          { name: "domain", jsonName: "domain", number: 2, label: OPTIONAL, type: STRING },
          {
            name: "metadata",
            jsonName: "metadata",
            number: 3,
            label: REPEATED,
            type: MESSAGE,
            typeName: ".google.rpc.ErrorInfo.MetadataEntry",
          },
        ],
        nestedType: [
          {
            name: "MetadataEntry",
            options: { mapEntry: true },
            field: [
              { name: "key", jsonName: "key", number: 1, label: OPTIONAL, type: STRING },
              { name: "value", jsonName: "value", number: 2, label: OPTIONAL, type: STRING },
            ],
          },
        ],
      },
      {
        name: "BadRequest",
        field: [
          {
            name: "field_violations",
            jsonName: "fieldViolations",
            number: 1,
            label: REPEATED,
            type: MESSAGE,
            typeName: ".google.rpc.BadRequest.FieldViolation",
          },
        ],
        nestedType: [
          {
            name: "FieldViolation",
            field: [
              { name: "field", jsonName: "field", number: 1, label: OPTIONAL, type: STRING },
              {
                name: "description",
                jsonName: "description",
                number: 2,
                label: OPTIONAL,
                type: STRING,
              },
            ],
          },
        ],
      },
    ],
  });
  return createFileRegistry(file, (name) =>
    name === "google/protobuf/duration.proto" ? file_google_protobuf_duration : undefined,
  );
}

// ---------------------------------------------------------------------------------------------
// Output

function headersToObject(headers) {
  const out = {};
  if (headers) {
    // Headers iterates with lowercase names, repeated values joined by ", ".
    headers.forEach((value, name) => {
      out[name.toLowerCase()] = value;
    });
  }
  return out;
}

function describeDetail(detail, registries) {
  const out = { type: detail.type };
  if (!(detail.value instanceof Uint8Array)) {
    return out;
  }
  let schema;
  for (const registry of registries) {
    schema = registry.getMessage(detail.type);
    if (schema) break;
  }
  if (!schema) {
    out.valueBase64 = Buffer.from(detail.value).toString("base64");
    return out;
  }
  try {
    const msg = fromBinary(schema, detail.value);
    out.value = toJson(schema, msg, { registry: registries[0] });
    if (detail.type === "google.rpc.RetryInfo" && msg.retryDelay !== undefined) {
      const seconds = Number(msg.retryDelay.seconds);
      const nanos = msg.retryDelay.nanos;
      out.retryDelaySeconds = seconds + nanos / 1e9;
      out.retryDelay = { seconds, nanos };
    }
  } catch (e) {
    out.valueBase64 = Buffer.from(detail.value).toString("base64");
    out.decodeError = String(e.message ?? e);
  }
  return out;
}

// Node's errors for "there was never a connection": the server did not answer at all, so this
// is no gRPC result (exit 2), unlike a reset or an HTTP error status after connecting.
const NO_CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
]);

function noConnectionCause(err) {
  const seen = new Set();
  let e = err;
  while (e instanceof Error && !seen.has(e)) {
    seen.add(e);
    if (typeof e.code === "string" && NO_CONNECTION_CODES.has(e.code)) {
      return e;
    }
    if (Array.isArray(e.errors)) {
      // AggregateError (Node tries every address of "localhost").
      const inner = e.errors.find((x) => typeof x?.code === "string" && NO_CONNECTION_CODES.has(x.code));
      if (inner) return inner;
    }
    e = e.cause;
  }
  return undefined;
}

function writeLineAndExit(line, exitCode) {
  process.stdout.write(line + "\n", () => process.exit(exitCode));
}

function fail(message) {
  process.stderr.write(`grpc-web client: ${message}\n`, () => process.exit(2));
}

// ---------------------------------------------------------------------------------------------
// The call

async function main() {
  const args = parseCli(process.argv.slice(2));
  const registry = loadRegistry(args.descriptors);

  const service = registry.getService(args.service);
  if (!service) {
    throw new UsageError(`service ${args.service} is not in ${args.descriptors}`);
  }
  const method = service.methods.find(
    (m) => m.name === args.method || m.localName === args.method,
  );
  if (!method) {
    throw new UsageError(
      `method ${args.method} is not in ${args.service} (has: ${service.methods.map((m) => m.name).join(", ")})`,
    );
  }
  if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") {
    throw new UsageError(`method ${method.name} is ${method.methodKind}: grpc-web has only unary and server streaming`);
  }

  let request;
  try {
    request = fromJson(method.input, args.requestJson, { registry });
  } catch (e) {
    throw new UsageError(`--request does not fit ${method.input.typeName}: ${e.message}`);
  }

  let sessionManager;
  const transportOptions = {
    baseUrl: args.baseUrl,
    httpVersion: args.httpVersion,
    useBinaryFormat: true,
  };
  if (args.httpVersion === "2") {
    // Our own session manager, so that the HTTP/2 connection can be closed at the end.
    sessionManager = new Http2SessionManager(args.baseUrl);
    transportOptions.sessionManager = sessionManager;
  }
  const transport = createGrpcWebTransport(transportOptions);
  const client = createClient(service, transport);
  const call = client[method.localName];

  let responseHeaders;
  let responseTrailers;
  const abort = new AbortController();
  const callOptions = {
    headers: args.headers,
    signal: abort.signal,
    timeoutMs: args.timeoutMs,
    onHeader: (h) => {
      responseHeaders = h;
    },
    onTrailer: (t) => {
      responseTrailers = t;
    },
  };

  const messages = [];
  const errorRegistries = [registry, builtinErrorDetailsRegistry()];
  try {
    if (method.methodKind === "unary") {
      const response = await call(request, callOptions);
      messages.push(toJson(method.output, response, { registry }));
    } else {
      let cancelledByUs = false;
      try {
        for await (const response of call(request, callOptions)) {
          messages.push(toJson(method.output, response, { registry }));
          if (messages.length >= args.maxMessages) {
            cancelledByUs = true;
            abort.abort();
            break;
          }
        }
      } catch (e) {
        // Our own cancellation is the normal end of a long-lived stream.
        if (!(cancelledByUs && ConnectError.from(e).code === Code.Canceled)) {
          throw e;
        }
      }
    }
  } catch (e) {
    const noConnection = noConnectionCause(e);
    if (noConnection) {
      sessionManager?.abort();
      fail(`no connection to ${args.baseUrl}: ${noConnection.code} ${noConnection.message}`);
      return;
    }
    const err = ConnectError.from(e);
    const out = {
      ok: false,
      code: err.code,
      codeName: codeToString(err.code),
      message: err.rawMessage,
      details: err.details.map((d) => describeDetail(d, errorRegistries)),
      // The error's metadata (headers and trailers of an error response), over the response
      // headers already received when a stream fails after its start.
      headers: { ...headersToObject(responseHeaders), ...headersToObject(err.metadata) },
    };
    if (messages.length > 0) {
      // A server stream that failed after some messages.
      out.messages = messages;
    }
    sessionManager?.abort();
    writeLineAndExit(JSON.stringify(out), 0);
    return;
  }
  sessionManager?.abort();
  writeLineAndExit(
    JSON.stringify({
      ok: true,
      messages,
      headers: headersToObject(responseHeaders),
      trailers: headersToObject(responseTrailers),
    }),
    0,
  );
}

main().catch((e) => {
  if (e instanceof UsageError) {
    fail(e.message);
  } else {
    fail(`unexpected error: ${e?.stack ?? e}`);
  }
});
