import Fastify from 'fastify'

/** The ceiling: a bare Fastify app answering the same 302 (fixed Location and cookie) with no work at all. */
const location = `${process.env.DIALOG_URL}/v26.0/dialog/oauth?client_id=123456789012345&response_type=code&state=fixed&code_challenge=fixed&code_challenge_method=S256`
const app = Fastify()
app.get('/facebook/login', (_request, reply) => {
  reply.header('set-cookie', 'oauth_binding=fixed; Max-Age=300; Path=/; HttpOnly; SameSite=Lax').redirect(location, 302)
})
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0)) })
