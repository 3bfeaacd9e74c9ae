export { parseScope, formatScope, accessCovers, AccessPolicy, type Access, type AccessRule, type AccessPolicyOptions } from './access.js';
export { Htpasswd } from './htpasswd.js';
export { OpenAuthorizer, HtpasswdAuthorizer, TokenAuthorizer, publicKeyFromPem, type Authorizer, type Caller, type TokenVerifyOptions } from './authorizer.js';
export { TokenIssuer, type TokenIssuerOptions } from './token-issuer.js';
