import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The local TCP ports of a process's connections to `remotePort` on this host, read from /proc (Linux): the
 * process's socket inodes from /proc/<pid>/fd, their addresses from /proc/<pid>/net/tcp{,6}. The simulator
 * records the client port of every rotation (`clientPort`), so these ports tell which rotations were asked by
 * this process. Synchronous on purpose: the caller freezes the process, reads, and kills it in one go.
 */
export function tcpPortsTo(pid: number, remotePort: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // the descriptor closed while we listed them
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue; // no IPv6 on this host
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.has(fields[9]!)) continue;
      const local = parseInt(fields[1]!.split(':')[1]!, 16);
      const remote = parseInt(fields[2]!.split(':')[1]!, 16);
      if (remote === remotePort) ports.push(local);
    }
  }
  return ports;
}
