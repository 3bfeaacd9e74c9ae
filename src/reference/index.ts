export type { Reference } from './parse.js';
export {
  DEFAULT_TAG,
  parseReference,
  withDefaultTag,
  withTag,
  nameOnly,
  parseTagTarget,
  isFullHexId,
  isValidTag,
} from './parse.js';
export { repositoryName, fullString, familiarName, familiarString, registryHost } from './format.js';
export { matchesReferencePattern, referenceFilterMatch } from './match.js';
