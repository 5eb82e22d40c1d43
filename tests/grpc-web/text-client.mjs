#!/usr/bin/env node
// vibe grpc-web text-mode test client
// ===================================
//
// What: ONE unary call through Google's own grpc-web runtime (the `grpc-web` npm package,
// what protoc-gen-grpc-web's generated clients call) in text mode (`format: "text"`:
// `application/grpc-web-text`, base64 frames, the mode browsers without binary XHR use),
// printing ONE line of JSON on stdout.
//
// Why: client.mjs (Connect) speaks binary grpc-web only; this proves the text mode against
// a client from outside the project. The runtime sends through XMLHttpRequest, which Node
// lacks: `xhr2` provides it. xhr2 hands over a response only when it is complete, so this
// client makes unary calls only (server streams in text mode are covered by
// tests/it/gateway.rs reading the base64 frames as they arrive).
//
// No code generation: messages are (de)serialized with @bufbuild/protobuf from a binary
// FileDescriptorSet, the same as client.mjs.
//
// Usage:
//   node text-client.mjs --base http://127.0.0.1:PORT --descriptors set.binpb \
//     --service vibe.integration.v1.DashboardService --method GetDashboard [--token JWT]
//
// Output (exit code 0):
//   success: {"ok":true,"message":<proto3 JSON of the response>}
//   failure: {"ok":false,"code":16,"message":"..."}
// Exit code 2 (message on stderr): bad arguments, unreadable descriptors, unknown method.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { create, createFileRegistry, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import grpcWeb from "grpc-web";
import XMLHttpRequest from "xhr2";

globalThis.XMLHttpRequest = XMLHttpRequest;

function fail(message) {
  process.stderr.write(`grpc-web text client: ${message}\n`, () => process.exit(2));
}

function done(result) {
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
}

function main() {
  const { values } = parseArgs({
    options: {
      base: { type: "string" },
      descriptors: { type: "string" },
      service: { type: "string" },
      method: { type: "string" },
      token: { type: "string" },
    },
  });
  for (const name of ["base", "descriptors", "service", "method"]) {
    if (!values[name]) throw new Error(`--${name} is required`);
  }
  const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(readFileSync(values.descriptors)));
  const registry = createFileRegistry(set);
  const method = registry.getService(values.service)?.methods.find((m) => m.name === values.method);
  if (!method || method.methodKind !== "unary") {
    throw new Error(`${values.service}/${values.method} is no unary method in ${values.descriptors}`);
  }
  const path = `/${values.service}/${values.method}`;
  const descriptor = new grpcWeb.MethodDescriptor(
    path,
    grpcWeb.MethodType.UNARY,
    Object,
    Object,
    (request) => toBinary(method.input, request),
    (bytes) => fromBinary(method.output, bytes),
  );
  const client = new grpcWeb.GrpcWebClientBase({ format: "text" });
  const metadata = values.token ? { authorization: `Bearer ${values.token}` } : {};
  client.rpcCall(`${values.base}${path}`, create(method.input, {}), metadata, descriptor, (err, response) =>
    err
      ? done({ ok: false, code: err.code, message: err.message })
      : done({ ok: true, message: toJson(method.output, response, { registry }) }),
  );
}

try {
  main();
} catch (e) {
  fail(e.message);
}
