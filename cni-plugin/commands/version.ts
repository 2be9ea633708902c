// VERSION: the spec versions twill speaks. Needs no config; stdin is ignored.
import { LATEST_VERSION, SUPPORTED_VERSIONS } from '../../lib/cni/versions.js';

export function cmdVersion(): object {
  return { cniVersion: LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}
