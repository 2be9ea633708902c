// Which `ip monitor` / `bridge monitor` lines may mean our dataplane drifted. Our own writes
// show up as additions, so only deletions count, plus any change to the device itself (down,
// MTU). Pods' neighbour entries on the bridge come and go all the time: not a reason to look.
export function isDriftEvent(line: string, device: string | undefined): boolean {
  if (device !== undefined) {
    const dev = device.replace(/\./g, '\\.');
    if (new RegExp(`^(Deleted )?\\d+: ${dev}[:@]`).test(line)) return true;
  }
  if (!line.startsWith('Deleted')) return false;
  if (line.includes('dev cni0')) return false;
  const isNeighbourOrFdb = line.includes(' lladdr ') || /^Deleted ([0-9a-f]{2}:){5}[0-9a-f]{2} /.test(line);
  return !isNeighbourOrFdb || (device !== undefined && line.includes(`dev ${device} `));
}
