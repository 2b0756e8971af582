import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { ConfigError, ConfigSchema, loadConfig } from '../../../plugins/core/config.js'
import { build, testDb, testEnv } from '../../helper.js'

t.test('unset variables take their defaults and numbers are coerced', async t => {
  const env = testEnv({ PORT: '8080' })
  delete env.FACEBOOK_GRAPH_URL
  delete env.FACEBOOK_DIALOG_URL
  delete env.LOG_LEVEL
  const config = loadConfig(env)
  t.match(config, {
    PUBLIC_BASE_URL: 'https://connect.example.com',
    CONNECT_LINK_TTL_SECONDS: 86400,
    FACEBOOK_SCOPES: 'pages_show_list,pages_messaging,pages_manage_metadata',
    FACEBOOK_LOGIN_CONFIG_ID: '',
    GRAPH_API_VERSION: 'v26.0',
    FACEBOOK_GRAPH_URL: 'https://graph.facebook.com',
    FACEBOOK_DIALOG_URL: 'https://www.facebook.com',
    GRAPH_TIMEOUT_MS: 5000,
    SHOPIFY_TIMEOUT_MS: 5000,
    CALLBACK_TIMEOUT_MS: 8000,
    STATE_TOKEN_TTL_SECONDS: 300,
    DATA_DIR: './data',
    PORT: 8080,
    HOST: '0.0.0.0',
    LOG_LEVEL: 'info',
    RATE_LIMIT_MAX: 60,
    RATE_LIMIT_WINDOW_MS: 60000,
    TRUST_PROXY: '',
    CORS_ORIGINS: ''
  })
  t.equal(loadConfig(testEnv({ PUBLIC_BASE_URL: 'https://bot.example.org' })).PUBLIC_BASE_URL, 'https://bot.example.org')
})

const refusals: Array<[string, string]> = [
  ['FACEBOOK_APP_ID', '12345'],
  ['FACEBOOK_APP_ID', 'abcdefghijklmnop'],
  ['FACEBOOK_REDIRECT_URI', 'ftp://example.com/cb'],
  ['FACEBOOK_REDIRECT_URI', '/facebook/callback'],
  ['STATE_TOKEN_SECRET', 'too-short-secret'],
  ['STATE_TOKEN_SECRET', `${'s'.repeat(32)},short-one`],
  ['TOKEN_ENCRYPTION_KEY', 'not-a-key-at-all'],
  ['ADMIN_API_TOKEN', 'short-admin-token'],
  ['CONNECT_LINK_TTL_SECONDS', '0'],
  ['GRAPH_API_VERSION', '26.0'],
  ['GRAPH_TIMEOUT_MS', '0'],
  ['SHOPIFY_TIMEOUT_MS', '0'],
  ['CALLBACK_TIMEOUT_MS', 'soon'],
  ['STATE_TOKEN_TTL_SECONDS', '0'],
  ['PORT', '70000'],
  ['LOG_LEVEL', 'loud'],
  ['CORS_ORIGINS', 'https://*.example.com'],
  ['RATE_LIMIT_MAX', '-1'],
  ['FACEBOOK_SCOPES', 'pages messaging'],
  ['PUBLIC_BASE_URL', 'https://example.com/with/path'],
  ['SHOPIFY_API_VERSION', '2026-13'],
  ['SHOPIFY_API_VERSION', 'unstable'],
  ['SHOPIFY_SHOP_ORIGIN', 'https://shop.example.com'],
  ['SHOPIFY_SCOPES', 'read products'],
  ['SHOPIFY_REDIRECT_URI', 'shopify/callback'],
  ['BOT_DISCLOSURE', 'x'.repeat(641)],
  ['SEND_RATE_PER_PAGE', '301'],
  ['LLM_BASE_URL', 'ftp://models.example.com/v1'],
  ['LLM_TIMEOUT_MS', '5'],
  ['LLM_MAX_TOOL_ROUNDS', '0'],
  ['LLM_MODEL', 'two words']
]

for (const [name, value] of refusals) {
  t.test(`${name}=${value} is refused with a message naming ${name} and not the value`, async t => {
    const error = t.throws(() => loadConfig(testEnv({ [name]: value }))) as Error
    t.type(error, ConfigError)
    t.match(error.message, name)
    t.notMatch(error.message, value)
  })
}

t.test('the Shopify variables: none, or the key, the secret and the redirect URI of /shopify/callback together', async t => {
  const shopify = { SHOPIFY_API_KEY: 'shopify-key', SHOPIFY_API_SECRET: 'shopify-secret', SHOPIFY_REDIRECT_URI: 'https://bot.example.org/shopify/callback' }
  t.match(loadConfig(testEnv(shopify)), { ...shopify, SHOPIFY_SCOPES: 'read_products', SHOPIFY_API_VERSION: '2026-10', SHOPIFY_SHOP_ORIGIN: 'https://{shop}' })
  t.equal(loadConfig(testEnv()).SHOPIFY_API_KEY, '', 'off by default')
  const refused = (env: Record<string, string>, name: RegExp) => t.throws(() => loadConfig(testEnv(env)), { name: 'ConfigError', message: name })
  refused({ SHOPIFY_API_KEY: 'shopify-key' }, /SHOPIFY_API_KEY and SHOPIFY_API_SECRET/)
  refused({ SHOPIFY_API_SECRET: 'shopify-secret' }, /SHOPIFY_API_KEY and SHOPIFY_API_SECRET/)
  refused({ ...shopify, SHOPIFY_REDIRECT_URI: '' }, /SHOPIFY_REDIRECT_URI/)
  refused({ ...shopify, SHOPIFY_REDIRECT_URI: 'https://bot.example.org/facebook/callback' }, /SHOPIFY_REDIRECT_URI/)
  refused({ ...shopify, SHOPIFY_REDIRECT_URI: 'https://bot.example.org/shopify/callback?x=1' }, /SHOPIFY_REDIRECT_URI/)
})

t.test('features and cookie security are decided once, from their variables', async t => {
  t.same(loadConfig(testEnv()).features, { messenger: false, shopify: false, llm: false })
  const on = loadConfig(testEnv({
    MESSENGER_VERIFY_TOKEN: 'verify-token-0123456789',
    SHOPIFY_API_KEY: 'shopify-key',
    SHOPIFY_API_SECRET: 'shopify-secret',
    SHOPIFY_REDIRECT_URI: 'https://bot.example.org/shopify/callback'
  }))
  t.same(on.features, { messenger: true, shopify: true, llm: false })
  t.equal(loadConfig(testEnv({ PUBLIC_BASE_URL: 'https://bot.example.org' })).secureCookies, true)
  t.equal(loadConfig(testEnv({ PUBLIC_BASE_URL: 'http://127.0.0.1:5000' })).secureCookies, false)
  t.equal(loadConfig(testEnv({ FACEBOOK_REDIRECT_URI: 'http://127.0.0.1:5000/facebook/callback' })).secureCookies, false,
    'PUBLIC_BASE_URL defaults to the redirect URI\'s origin')
})

t.test('@fastify/env decorates fastify.config with the checked values and the derived fields beside them', async t => {
  const config = loadConfig(testEnv({ PORT: '6100', MESSENGER_VERIFY_TOKEN: 'verify-token-0123456789' }))
  const app = await build(t, { config, db: await testDb(t) })
  t.ok(app.hasDecorator('getEnvs'), "@fastify/env's own decorator is there")
  t.equal(app.getEnvs<{ PORT: number }>().PORT, 6100)
  t.equal(app.config.PORT, 6100)
  t.same(app.config.features, { messenger: true, shopify: false, llm: false })
  t.equal(app.config.secureCookies, true)
})

t.test('.env.example documents every variable', async t => {
  const example = await readFile('.env.example', 'utf8')
  for (const name of Object.keys(ConfigSchema.properties)) t.match(example, new RegExp(`^#? ?${name}=`, 'm'), name)
})

t.test('a missing required variable is named', async t => {
  for (const name of ['FACEBOOK_APP_ID', 'FACEBOOK_APP_SECRET', 'FACEBOOK_REDIRECT_URI', 'STATE_TOKEN_SECRET', 'TOKEN_ENCRYPTION_KEY', 'ADMIN_API_TOKEN']) {
    const env = testEnv()
    delete env[name]
    t.throws(() => loadConfig(env), { message: new RegExp(name) })
  }
})

t.test('the server stops before listening on a bad value, naming it without the secret', async t => {
  const env = { ...testEnv({ ADMIN_API_TOKEN: 'tiny-secret-value' }), PATH: process.env.PATH ?? '' }
  const result = spawnSync(process.execPath, ['dist/src/server.js'], { env, encoding: 'utf8', timeout: 20_000 })
  t.equal(result.status, 1)
  t.match(result.stderr, /ADMIN_API_TOKEN/)
  t.notMatch(result.stderr, /tiny-secret-value/)
  t.notMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace')
})

t.test('.env is read when present and real environment variables win', async t => {
  const dir = t.testdir({ '.env': 'ADMIN_API_TOKEN=from-dotenv-file-0123456789abcdefghij\nPORT=6001\n' })
  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => process.chdir(cwd))
  const env = testEnv()
  delete env.ADMIN_API_TOKEN
  t.equal(loadConfig(env, { dotenv: true }).ADMIN_API_TOKEN, 'from-dotenv-file-0123456789abcdefghij')
  t.equal(loadConfig(env, { dotenv: true }).PORT, 6001)
  t.equal(loadConfig({ ...env, PORT: '7002' }, { dotenv: true }).PORT, 7002, 'the environment wins')
  t.throws(() => loadConfig(env), /ADMIN_API_TOKEN/, 'without dotenv the file is not read')
})

t.test('a copied .env.example does not boot: each placeholder, and a key of one repeated byte, is refused by name', async t => {
  const example = Object.fromEntries((await readFile('.env.example', 'utf8')).split('\n')
    .filter(line => /^[A-Z_]+=/.test(line)).map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
  t.throws(() => loadConfig(example), { name: 'ConfigError', message: /placeholder|one byte repeated/ }, 'the example as it ships')
  const placeholders: Record<string, RegExp> = {
    FACEBOOK_APP_ID: /FACEBOOK_APP_ID is still the placeholder/,
    FACEBOOK_APP_SECRET: /FACEBOOK_APP_SECRET is still the placeholder/,
    STATE_TOKEN_SECRET: /STATE_TOKEN_SECRET is still the placeholder/,
    ADMIN_API_TOKEN: /ADMIN_API_TOKEN is still the placeholder/,
    TOKEN_ENCRYPTION_KEY: /TOKEN_ENCRYPTION_KEY must be random, not one byte repeated/
  }
  for (const [name, message] of Object.entries(placeholders)) {
    t.throws(() => loadConfig(testEnv({ [name]: example[name]! })), { name: 'ConfigError', message }, name)
  }
  for (const key of ['ab'.repeat(32), Buffer.alloc(32, 7).toString('base64'), `${randomBytes(32).toString('hex')},${'11'.repeat(32)}`]) {
    t.throws(() => loadConfig(testEnv({ TOKEN_ENCRYPTION_KEY: key })), { message: /TOKEN_ENCRYPTION_KEY must be random/ })
  }
})

t.test('config errors say what is allowed, once, in words: no raw pattern, no repeated branch', async t => {
  const level = t.throws(() => loadConfig(testEnv({ LOG_LEVEL: 'loud' }))) as Error
  t.equal(level.message, 'invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent')
  const token = t.throws(() => loadConfig(testEnv({ MESSENGER_VERIFY_TOKEN: 'short' }))) as Error
  t.equal(token.message, 'invalid configuration: MESSENGER_VERIFY_TOKEN must be 16 to 256 characters, no spaces, or empty to turn Messenger off')
  const several = t.throws(() => loadConfig(testEnv({ PORT: 'x', GRAPH_TIMEOUT_MS: '0' }))) as Error
  t.match(several.message, /GRAPH_TIMEOUT_MS must be at least 1/)
  t.match(several.message, /PORT must be a whole number/)
  for (const [name, value] of refusals) {
    const error = t.throws(() => loadConfig(testEnv({ [name]: value }))) as Error
    t.notMatch(error.message, /\^|\\S|\[0-9|must match pattern|equal to constant/, `${name}: no pattern in the message`)
  }
})

t.test('the LLM: base URL and model together or neither; a key alone is refused; a placeholder key is refused', async t => {
  const base = { LLM_BASE_URL: 'http://127.0.0.1:11434/v1/', LLM_MODEL: 'llama3.1' }
  const on = loadConfig(testEnv(base))
  t.equal(on.features.llm, true)
  t.equal(on.LLM_BASE_URL, 'http://127.0.0.1:11434/v1', 'a trailing slash is dropped')
  t.match(on, { LLM_TIMEOUT_MS: 10000, LLM_MAX_TOOL_ROUNDS: 3, LLM_API_KEY: '' })
  t.equal(loadConfig(testEnv()).features.llm, false, 'off by default')
  t.throws(() => loadConfig(testEnv({ LLM_BASE_URL: base.LLM_BASE_URL })), { message: /LLM_MODEL is required with LLM_BASE_URL/ })
  t.throws(() => loadConfig(testEnv({ LLM_MODEL: 'llama3.1' })), { message: /LLM_BASE_URL is required with LLM_MODEL/ })
  t.throws(() => loadConfig(testEnv({ LLM_API_KEY: 'sk-secret-value-123' })), { message: /LLM_API_KEY is set without/ })
  const placeholder = t.throws(() => loadConfig(testEnv({ ...base, LLM_API_KEY: 'replace-with-your-api-key' }))) as Error
  t.match(placeholder.message, /LLM_API_KEY is still the placeholder/)
  const error = t.throws(() => loadConfig(testEnv({ ...base, LLM_API_KEY: 'sk-secret-value-123', LLM_TIMEOUT_MS: '1' }))) as Error
  t.notMatch(error.message, 'sk-secret-value-123', 'the key is never in a message')
})
