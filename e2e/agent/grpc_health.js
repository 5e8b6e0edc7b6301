#!/usr/bin/env node
// grpc_health.js PORT STATE_FILE: a gRPC server (@grpc/grpc-js, plaintext
// HTTP/2) implementing grpc.health.v1.Health/Check. The status of service
// "" and of "mizzen.test" is read from STATE_FILE on every call (SERVING or
// NOT_SERVING, default SERVING); any other service is NOT_FOUND.
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require(path.join(__dirname, '..', 'node_modules', '@grpc', 'grpc-js'));
const loader = require(path.join(__dirname, '..', 'node_modules', '@grpc', 'proto-loader'));

const [port, stateFile] = process.argv.slice(2);
const def = loader.loadSync(path.join(__dirname, 'health.proto'), { keepCase: true, enums: String });
const health = grpc.loadPackageDefinition(def).grpc.health.v1;

function state() {
  try { return fs.readFileSync(stateFile, 'utf8').trim() || 'SERVING'; } catch (e) { return 'SERVING'; }
}

const server = new grpc.Server();
server.addService(health.Health.service, {
  Check(call, cb) {
    const svc = call.request.service || '';
    if (svc !== '' && svc !== 'mizzen.test') {
      cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      return;
    }
    cb(null, { status: state() });
  },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) { console.error(err.message); process.exit(1); }
  console.log(`grpc health on 127.0.0.1:${port}`);
});
