#!/usr/bin/env node
// Focused micro-run of the fetch transport's per-event path (see bench/node/throughput.ts):
//   node bench/micro-throughput.mjs [events=100000] [trials=7]
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { ROOT, OUT, bundleNode } from './lib/build.mjs'

const out = await bundleNode(path.join(ROOT, 'bench/node/throughput.ts'), path.join(OUT, 'throughput.mjs'))
process.exitCode = spawnSync(process.execPath, [out, ...process.argv.slice(2)], { stdio: 'inherit' }).status ?? 1
