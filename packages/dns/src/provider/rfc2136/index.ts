export { axfrRequest, transferEnd, transferRecords } from './axfr.js';
export {
  answerValue,
  canonicalIPv6,
  encodeRdata,
  InvalidValueError,
  txtStrings,
} from './rdata.js';
export { type RFC2136Options, RFC2136Provider } from './rfc2136.js';
export {
  DnsTransport,
  type Exchange,
  NetworkError,
  type TransportOptions,
  UDP_MAX,
} from './transport.js';
export {
  DEFAULT_FUDGE,
  errorReply,
  extractTsig,
  type Signed,
  type SignOptions,
  sign,
  signStream,
  TSIG_ALGORITHMS,
  TSIG_ERROR,
  type TsigAlgorithm,
  TsigError,
  type TsigKey,
  type TsigRecord,
  TsigVerifier,
  tsigErrorName,
  tsigSecretProblem,
  verifyReply,
  weakTsigAlgorithm,
} from './tsig.js';
export { buildPostcheck, buildUpdate, InvalidChangeError, type UpdateOptions } from './update.js';
export { rcodeName, WireError } from './wire.js';
