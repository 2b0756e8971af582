import { createServer, connect, type Socket, type AddressInfo } from 'node:net'

/** A loopback TCP relay that a test can cut and restore, to play a database going away and coming back. */
export async function startTcpProxy (targetPort: number) {
  const sockets = new Set<Socket>()
  let down = false
  const server = createServer(client => {
    if (down) return client.destroy()
    const upstream = connect(targetPort, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {})
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    cut () {
      down = true
      for (const socket of sockets) socket.destroy()
    },
    restore () { down = false },
    close: () => new Promise<void>(resolve => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  }
}
