import importX from 'eslint-plugin-import-x'
import neostandard from 'neostandard'

/**
 * Imports run one way: src -> route plugins -> decorator plugins -> domain modules -> store -> core. Each folder of
 * plugins/ lists the folders it may not import; the store knows no provider and providers do not know each other.
 */
const FOLDERS = [
  'core', 'tokens', 'store', 'inbox', 'facebook', 'messenger', 'shopify', 'llm', 'outbox', 'bot', 'campaigns', 'clicks', 'connect', 'admin',
  'console'
]
const MAY_IMPORT = {
  core: [],
  store: ['core'],
  tokens: ['core'],
  inbox: ['core', 'store'],
  facebook: ['core', 'store', 'tokens', 'inbox'],
  messenger: ['core', 'store', 'tokens', 'inbox'],
  shopify: ['core', 'store', 'tokens', 'inbox'],
  // A language model is a provider like the others: it knows the catalog's products, nothing of Messenger.
  llm: ['core', 'store'],
  // The sales loop sits on the providers: the outbox sends through Facebook's Send API.
  outbox: ['core', 'store', 'tokens', 'facebook'],
  bot: ['core', 'store', 'tokens', 'facebook', 'outbox', 'llm'],
  // Promotions go out through the outbox with the bot's carousel.
  campaigns: ['core', 'store', 'tokens', 'outbox', 'bot'],
  connect: ['core', 'store', 'tokens'],
  clicks: ['core', 'store', 'tokens'],
  admin: ['core', 'store', 'tokens', 'facebook', 'shopify', 'outbox', 'campaigns'],
  // The owner's console: the same store and actions as the admin API, behind a browser session instead of a token.
  console: ['core', 'store', 'tokens', 'facebook', 'outbox', 'campaigns']
}

const layering = Object.entries(MAY_IMPORT).map(([folder, allowed]) => ({
  files: [`plugins/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        ...FOLDERS.filter(other => other !== folder && !allowed.includes(other)).map(other => ({
          group: [`../${other}/*`],
          message: `plugins/${folder} may import only ${allowed.join(', ') || 'nothing else in plugins/'} (docs/architecture.md)`
        })),
        { group: ['**/src/*', '**/tools/*', '**/test/*'], message: 'plugins/ import neither the entry points, the tools nor the tests' }
      ]
    }]
  }
}))

export default [
  ...neostandard({ ts: true }),
  { ignores: ['dist/', 'coverage/', '.tap/', 'data/'] },
  {
    plugins: { 'import-x': importX },
    rules: {
      '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }],
      'import-x/order': ['error', {
        groups: ['builtin', 'external', ['parent', 'sibling', 'index']],
        alphabetize: { order: 'asc', caseInsensitive: true },
        'newlines-between': 'never'
      }]
    }
  },
  {
    // Fixtures, emulator answers and bench tables are long literal data; the service's own code has no exemption.
    files: ['test/**/*.ts', 'tools/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@stylistic/max-len': ['error', {
        code: 140, ignoreUrls: true, ignoreRegExpLiterals: true, ignoreStrings: true, ignoreTemplateLiterals: true
      }]
    }
  },
  ...layering,
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['../tools/*', '../test/*', '../bench/*'],
          message: 'the service (src/) ships without the emulators, the demo, the bench and the tests'
        }]
      }]
    }
  }
]
