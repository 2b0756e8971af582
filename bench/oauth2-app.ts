import { fastifyOauth2 as oauth2, type OAuth2Namespace } from '@fastify/oauth2'
import Fastify from 'fastify'

/** @fastify/oauth2's Facebook preset with PKCE, pointed at the same emulator: the library baseline. */
declare module 'fastify' {
  interface FastifyInstance { facebookOAuth2: OAuth2Namespace }
}

const emulator = process.env.EMULATOR_URL!
const app = Fastify()
await app.register(oauth2, {
  name: 'facebookOAuth2',
  credentials: {
    client: { id: process.env.FACEBOOK_APP_ID!, secret: process.env.FACEBOOK_APP_SECRET! },
    auth: {
      ...oauth2.FACEBOOK_CONFIGURATION,
      authorizeHost: emulator,
      authorizePath: '/v26.0/dialog/oauth',
      tokenHost: emulator,
      tokenPath: '/v26.0/oauth/access_token'
    },
    options: { authorizationMethod: 'body' }
  },
  scope: ['pages_show_list', 'pages_messaging', 'pages_manage_metadata'],
  startRedirectPath: '/login/facebook',
  callbackUri: `http://127.0.0.1:${process.env.PORT}/login/facebook/callback`,
  pkce: 'S256'
})
app.get('/login/facebook/callback', async (request) => {
  const { token } = await app.facebookOAuth2.getAccessTokenFromAuthorizationCodeFlow(request)
  return { ok: typeof token.access_token === 'string' }
})
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0)) })
