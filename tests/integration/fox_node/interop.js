'use strict'
// Drives fox's FOX port with the original fox-wamp client (HyperNetClient of the npm package
// fox-wamp@0.7.28). Run by tests/integration/test_fox_interop.py:
//   node interop.js PORT
// Every step is asserted; waits are deadlines, never sleeps. Prints one "STEP name" line per
// passed step and, at the end, one "SUMMARY {json}" line; exits 1 with "FAIL ..." on stderr on
// the first failure (or when the global deadline passes).
//
// Set up by the Python side before this runs: an MQTT client holds the retained value
// {"from": "mqtt"} on fox/interop/mqtt and subscribes to fox/interop/cross.

const assert = require('assert')
const { HyperNetClient } = require('fox-wamp/lib/hyper/net_transport')

const PORT = Number(process.argv[2])
const REALM = process.argv[3] || 'realm1'
const STEP_MS = 5000
const GLOBAL_MS = Number(process.env.FOX_INTEROP_DEADLINE_MS || 30000)

const steps = []
const clients = []

function fail (why) {
  process.stderr.write('FAIL ' + why + '\n')
  process.exit(1)
}

const globalTimer = setTimeout(() => {
  fail('global deadline of ' + GLOBAL_MS + ' ms passed during step after [' + steps.join(', ') + ']')
}, GLOBAL_MS)

process.on('unhandledRejection', (err) => fail('unhandled rejection: ' + describe(err)))
process.on('uncaughtException', (err) => fail('uncaught exception: ' + (err && err.stack || err)))

function describe (v) {
  if (v instanceof Error) return v.stack || String(v)
  try { return JSON.stringify(v) } catch (e) { return String(v) }
}

function step (name) {
  steps.push(name)
  console.log('STEP ' + name)
}

// Rejects when `promise` has not settled within ms.
function within (promise, what, ms = STEP_MS) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timed out after ' + ms + ' ms: ' + what)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

// Expects `promise` to reject; returns the rejection value.
async function rejects (promise, what) {
  let value
  try {
    value = await within(promise, what)
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('timed out')) throw err
    return err
  }
  throw new Error(what + ': expected a rejection, resolved with ' + describe(value))
}

// Collects callback invocations; next() waits (with a deadline) for the next one.
class Inbox {
  constructor (name) {
    this.name = name
    this.items = []
    this.waiters = []
    this.all = []
  }

  push (...item) {
    this.all.push(item)
    const w = this.waiters.shift()
    if (w) w(item)
    else this.items.push(item)
  }

  get cb () {
    return (...args) => this.push(...args)
  }

  next (what, ms = STEP_MS) {
    if (this.items.length) return Promise.resolve(this.items.shift())
    return within(new Promise((resolve) => this.waiters.push(resolve)), this.name + ': ' + what, ms)
  }

  assertEmpty (what) {
    assert.deepStrictEqual(this.items, [], this.name + ': ' + what)
  }
}

async function connect (name) {
  const c = new HyperNetClient({ host: '127.0.0.1', port: PORT, reconnectDelay: 200 })
  clients.push(c)
  await within(c.connect(), name + ' connects')
  const answer = await within(c.login({ realm: REALM }), name + ' logs in')
  assert.strictEqual(answer, null, name + ': LOGIN answers OK without data')
  return c
}

function isEventId (v) {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0
}

async function main () {
  assert.ok(PORT > 0, 'usage: node interop.js PORT [REALM]')
  const summary = {}

  // -- login, echo --------------------------------------------------------------------------
  const pub = await connect('publisher')
  const sub = await connect('subscriber')
  const late = await connect('late')
  step('login')

  const again = await rejects(pub.login({ realm: REALM }), 'second LOGIN')
  assert.strictEqual(again.code, 'fox.error.already_logged_in', 'second LOGIN: ' + describe(again))
  step('second login rejected')

  assert.deepStrictEqual(await within(pub.echo({ x: 1, s: 'é' }), 'echo'), { x: 1, s: 'é' })
  assert.deepStrictEqual(await within(pub.echo([1, 'two', null]), 'echo of a list'), [1, 'two', null])
  step('echo')

  // -- subscribe, publish with acknowledge ------------------------------------------------
  const news = new Inbox('news subscription')
  const newsSub = await within(sub.subscribe('fox.interop.news', news.cb), 'subscribe')
  assert.ok(isEventId(newsSub), 'subscribe resolves with the subscription id, got ' + describe(newsSub))
  const keep = new Inbox('second news subscription')
  const keepSub = await within(sub.subscribe('fox.interop.news', keep.cb), 'second subscribe')
  assert.ok(isEventId(keepSub) && keepSub !== newsSub, 'a second subscription id: ' + describe(keepSub))
  step('subscribe')

  const acked = await within(pub.publish('fox.interop.news', { n: 1, text: 'hello' }, { acknowledge: true }),
    'acknowledged publish')
  // the original client reads the OK's data (absent) and resolves with null; the id is in qid
  assert.strictEqual(acked, null, 'acknowledged publish resolves (with null)')
  const [v1, o1] = await news.next('the acknowledged event')
  assert.deepStrictEqual(v1, { n: 1, text: 'hello' }, 'event data')
  assert.ok(isEventId(o1.publication), 'event carries its event id: ' + describe(o1))
  assert.strictEqual(o1.topic, 'fox.interop.news', 'event topic')
  assert.strictEqual(o1.publisher, undefined, 'no publisher without disclose_me: ' + describe(o1))
  const [k1, ko1] = await keep.next('the acknowledged event (second subscription)')
  assert.deepStrictEqual(k1, v1)
  assert.strictEqual(ko1.publication, o1.publication, 'both subscriptions see the same event id')
  step('publish with acknowledge')

  // no acknowledge: resolves at once, fox must not answer (the client has no handler for it)
  await within(pub.publish('fox.interop.news', 'plain', { headers: { trace: 'abc' }, disclose_me: true }),
    'publish without acknowledge')
  const [v2, o2] = await news.next('the unacknowledged event')
  assert.strictEqual(v2, 'plain')
  assert.ok(isEventId(o2.publication) && o2.publication > o1.publication, 'increasing event ids: ' + describe(o2))
  assert.deepStrictEqual(o2.headers, { trace: 'abc' }, 'headers travel as hdr')
  assert.ok(isEventId(o2.publisher), 'disclose_me: the publisher session id: ' + describe(o2))
  await keep.next('the unacknowledged event (second subscription)')
  await within(pub.publish('fox.interop.news', null, { acknowledge: true }), 'publish of null')
  const [v3, o3] = await news.next('the null event')
  assert.strictEqual(v3, null, 'null travels as no data')
  await keep.next('the null event (second subscription)')
  step('publish without acknowledge, headers, disclose_me, null')

  // exclude_me defaults to true in the client: the publisher's own subscription gets nothing
  const own = new Inbox('publisher own subscription')
  await within(pub.subscribe('fox.interop.news', own.cb), 'publisher subscribes')
  await within(pub.publish('fox.interop.news', { n: 4 }, { acknowledge: true }), 'publish excluding me')
  const [v4, o4] = await news.next('the fourth event')
  assert.deepStrictEqual(v4, { n: 4 })
  await keep.next('the fourth event (second subscription)')
  await within(pub.echo('barrier'), 'echo barrier')
  own.assertEmpty('exclude_me (the default) keeps the publisher\'s own event from it')
  await within(pub.publish('fox.interop.news', { n: 5 }, { acknowledge: true, exclude_me: false }), 'publish to me')
  const [ownV] = await own.next('exclude_me: false delivers to the publisher')
  assert.deepStrictEqual(ownV, { n: 5 })
  await news.next('the fifth event')
  await keep.next('the fifth event (second subscription)')
  step('exclude_me')

  // -- retained, after ----------------------------------------------------------------------
  await within(pub.publish('fox.interop.state', { v: 42, list: [1, 2] }, { retain: true, acknowledge: true }),
    'retained publish')
  const state = new Inbox('late retained subscription')
  await within(late.subscribe('fox.interop.state', state.cb, { retained: true }), 'retained subscribe')
  const [sv, so] = await state.next('the retained value')
  assert.deepStrictEqual(sv, { v: 42, list: [1, 2] }, 'retained value')
  assert.ok(isEventId(so.publication), 'retained event carries its event id: ' + describe(so))
  assert.strictEqual(so.topic, 'fox.interop.state')
  const wild = new Inbox('late wildcard retained subscription')
  await within(late.subscribe('fox.interop.*', wild.cb, { retained: true }), 'wildcard retained subscribe')
  // two retained values match: ours and the MQTT client's (set by the Python side)
  const byTopic = {}
  for (let i = 0; i < 2; i++) {
    const [wv, wo] = await wild.next('retained value ' + (i + 1) + ' of 2 by wildcard')
    byTopic[wo.topic] = [wv, wo.publication]   // a wildcard event names the concrete topic
  }
  await within(late.echo('barrier'), 'echo barrier')
  wild.assertEmpty('two retained values match fox.interop.*')
  assert.deepStrictEqual(Object.keys(byTopic).sort(), ['fox.interop.mqtt', 'fox.interop.state'])
  assert.deepStrictEqual(byTopic['fox.interop.state'], [sv, so.publication])
  assert.deepStrictEqual(byTopic['fox.interop.mqtt'][0], { from: 'mqtt', n: [1, 2] })
  step('retained')

  const history = new Inbox('late history subscription')
  await within(late.subscribe('fox.interop.news', history.cb, { after: o1.publication }), 'subscribe after')
  const replayed = []
  for (const expected of [v2, v3, v4, { n: 5 }]) {
    const [hv, ho] = await history.next('history replay after ' + o1.publication)
    assert.deepStrictEqual(hv, expected, 'history replay, in order')
    assert.ok(ho.publication > o1.publication, 'only events after the given id')
    replayed.push(ho.publication)
  }
  assert.strictEqual(replayed[0], o2.publication)
  await within(late.echo('barrier'), 'echo barrier')
  history.assertEmpty('nothing but the history after ' + o1.publication)
  step('after')

  // the retained value of an MQTT client (set by the Python side), and a FOX publish to MQTT
  const mqtt = new Inbox('MQTT retained subscription')
  await within(late.subscribe('fox.interop.mqtt', mqtt.cb, { retained: true }), 'subscribe to the MQTT topic')
  const [mv, mo] = await mqtt.next('the retained value an MQTT client published')
  assert.deepStrictEqual(mv, { from: 'mqtt', n: [1, 2] })
  assert.strictEqual(mo.topic, 'fox.interop.mqtt')
  await within(pub.publish('fox.interop.cross', { from: 'fox', ok: true }, { acknowledge: true }), 'publish for MQTT')
  step('mqtt')

  // -- register, call with progress ----------------------------------------------------------
  const tasks = new Inbox('add callee')
  const addReg = await within(sub.register('fox.interop.add', (data, opt) => {
    tasks.push(data, opt)
    if (!data.quiet) {
      opt.progress({ step: 1 })
      opt.progress({ step: 2 })
    }
    // an asynchronous result after the progress
    return new Promise((resolve) => setImmediate(() => resolve({ sum: data.a + data.b })))
  }), 'register')
  assert.ok(isEventId(addReg), 'register resolves with the registration id: ' + describe(addReg))
  step('register')

  const progress = []
  const result = await within(pub.callrpc('fox.interop.add', { a: 2, b: 3 }, {
    progress: (p) => progress.push(p)
  }), 'call with progress')
  assert.deepStrictEqual(result, { sum: 5 }, 'call result')
  assert.deepStrictEqual(progress, [{ step: 1 }, { step: 2 }], 'progress before the result')
  const [taskData, taskOpt] = await tasks.next('the invocation')
  assert.deepStrictEqual(taskData, { a: 2, b: 3 })
  assert.strictEqual(taskOpt.procedure, 'fox.interop.add')
  // A caller without a progress callback must not get progress: the original client throws
  // on an EMIT then (it sends no progress flag, so no router can tell).
  const plain = await within(pub.callrpc('fox.interop.add', { a: 10, b: -1, quiet: true }),
    'call without progress callback')
  assert.deepStrictEqual(plain, { sum: 9 })
  await tasks.next('the second invocation')
  step('call with progress')

  // -- errors --------------------------------------------------------------------------------
  const failReg = await within(sub.register('fox.interop.fail', (data) => {
    throw new Error('deliberate failure: ' + data)
  }), 'register the failing procedure')
  const err = await rejects(pub.callrpc('fox.interop.fail', 'x'), 'call of a failing callee')
  assert.deepStrictEqual(err, { code: 'error.callee_failure', message: 'deliberate failure: x' },
    'callee error: ' + describe(err))
  const noproc = await rejects(pub.callrpc('fox.interop.nothing', 1), 'call of an unknown procedure')
  assert.strictEqual(noproc.code, 'wamp.error.no_such_procedure', 'unknown procedure: ' + describe(noproc))
  assert.strictEqual(typeof noproc.message, 'string')
  step('callee error')

  // -- unsubscribe ---------------------------------------------------------------------------
  assert.strictEqual(await within(sub.unsubscribe(newsSub), 'unsubscribe'), null)
  await within(pub.publish('fox.interop.news', { n: 6 }, { acknowledge: true }), 'publish after unsubscribe')
  const [k6] = await keep.next('the event after the unsubscribe (kept subscription)')
  assert.deepStrictEqual(k6, { n: 6 })
  await within(sub.echo('barrier'), 'echo barrier')
  news.assertEmpty('no event after unsubscribe')
  const badUnsub = await rejects(sub.unsubscribe(newsSub), 'second unsubscribe')
  assert.strictEqual(badUnsub.code, 'wamp.error.no_such_subscription', describe(badUnsub))
  step('unsubscribe')

  // -- unregister ----------------------------------------------------------------------------
  assert.strictEqual(await within(sub.unregister(addReg), 'unregister'), null)
  const gone = await rejects(pub.callrpc('fox.interop.add', { a: 1, b: 1 }), 'call after unregister')
  assert.strictEqual(gone.code, 'wamp.error.no_such_procedure', 'call after unregister: ' + describe(gone))
  const badUnreg = await rejects(sub.unregister(addReg), 'second unregister')
  assert.strictEqual(badUnreg.code, 'wamp.error.no_such_registration', describe(badUnreg))
  assert.strictEqual(await within(sub.unregister(failReg), 'unregister the failing procedure'), null)
  tasks.assertEmpty('no invocation after unregister')
  step('unregister')

  summary.steps = steps
  summary.event_ids = [o1.publication, o2.publication, o3.publication, o4.publication]
  summary.retained_id = so.publication
  summary.subscription_ids = [newsSub, keepSub]
  summary.registration_ids = [addReg, failReg]
  summary.progress = progress
  summary.callee_error = err
  for (const c of clients) c.close()
  clearTimeout(globalTimer)
  console.log('SUMMARY ' + JSON.stringify(summary))
  process.exit(0)
}

main().catch((err) => fail('after [' + steps.join(', ') + ']: ' + describe(err)))
