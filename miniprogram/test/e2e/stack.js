// Starts the real stack for the end-to-end test: the Python API (gunicorn) and the WeChat emulator,
// each on a free port, on a fresh SQLite database in a temporary folder, migrated, plans loaded;
// stack.flask(...) runs the project's CLI against the same database and environment.
// Payment notifications: with APP_ENV=development the API puts
// WECHAT_PAY_NOTIFY_URL = http://127.0.0.1:$PORT/api/v1/payments/wechat/notify on every order
// (config/__init__.py), and the emulator (started without --notify-url) posts to the order's
// notify_url, so PORT = the gunicorn port below is what makes the notification reach the live API.
const { spawn, execFile, execFileSync } = require('child_process')
const fs = require('fs')
const net = require('net')
const os = require('os')
const path = require('path')
const { REPO, python } = require('../openapi')

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function waitFor(url, child, output) {
  const deadline = Date.now() + 20000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited (${child.exitCode}):\n${output.join('')}`)
    try {
      const response = await fetch(url)
      if (response.status < 500) return
    } catch (err) {
      // not listening yet
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer in 20 s:\n${output.join('')}`)
}

function start(args, env) {
  const output = []
  const child = spawn(python(), args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.on('data', chunk => output.push(chunk.toString()))
  child.stderr.on('data', chunk => output.push(chunk.toString()))
  return { child, output }
}

async function startStack() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yiqi-e2e-'))
  const [apiPort, emulatorPort] = [await freePort(), await freePort()]
  const env = Object.assign({}, process.env, {
    APP_ENV: 'development', FLASK_APP: 'wsgi', PORT: String(apiPort), EMULATOR_PORT: String(emulatorPort),
    DATABASE_URL: `sqlite:///${path.join(dir, 'e2e.sqlite3')}`, WECHAT_KEYS_DIR: path.join(dir, 'wechat-keys'),
    CLAIM_DOCUMENTS_DIR: path.join(dir, 'claim-documents'), REDIS_URL: '',
  })
  execFileSync(python(), ['-m', 'flask', 'db', 'upgrade'], { cwd: REPO, env, stdio: 'pipe' })
  execFileSync(python(), ['-m', 'flask', 'plans', 'load'], { cwd: REPO, env, stdio: 'pipe' })
  const emulator = start(['-m', 'wechat.emulator', '--host', '127.0.0.1', '--port', String(emulatorPort),
    '--keys-dir', env.WECHAT_KEYS_DIR, '--notify-time-scale', '0.001'], env)
  // --keep-alive longer than Node fetch's own idle limit (4 s): with gunicorn's default (2 s) the server could
  // close an idle connection just as fetch reused it ("fetch failed"), e.g. after a CLI step of a few seconds.
  const api = start(['-m', 'gunicorn', '--bind', `127.0.0.1:${apiPort}`, '--workers', '1', '--threads', '4',
    '--keep-alive', '30', 'wsgi:app'], env)
  const stack = {
    dir, env,
    // the project's CLI on this stack's database and settings: await stack.flask('apportion', 'prepare', '--plan', code)
    // → its stdout. Asynchronous, so the event loop keeps serving the HTTP client's sockets meanwhile.
    flask(...args) {
      return new Promise((resolve, reject) => execFile(python(), ['-m', 'flask', ...args], { cwd: REPO, env, encoding: 'utf8' },
        (error, stdout, stderr) => (error ? reject(new Error(`flask ${args.join(' ')}: ${error.message}\n${stderr}`)) : resolve(stdout))))
    },
    apiBase: `http://127.0.0.1:${apiPort}/api/v1`,
    emulatorUrl: `http://127.0.0.1:${emulatorPort}/`,
    async stop() {
      for (const proc of [api, emulator]) {
        if (proc.child.exitCode === null) {
          const exited = new Promise(resolve => proc.child.once('exit', resolve))
          proc.child.kill('SIGTERM')
          await exited
        }
      }
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await waitFor(`${stack.emulatorUrl}_emulator/tokens`, emulator.child, emulator.output)
    await waitFor(`http://127.0.0.1:${apiPort}/healthz`, api.child, api.output)
  } catch (error) {
    await stack.stop()
    throw error
  }
  return stack
}

module.exports = { startStack }
