import type { Socket } from 'node:net';

/**
 * Calls `onMessage` with each DNS message a TCP stream carries, as they complete: on a
 * stream each message comes after its 2-byte length (RFC 1035 4.2.2).
 */
export function readDnsMessages(socket: Socket, onMessage: (msg: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
      buffered = buffered.subarray(2 + msg.length);
      onMessage(msg);
    }
  });
}
