/**
 * Canonical hosted zone ids of Elastic Load Balancing endpoints, by region: what an alias
 * record's AliasTarget.HostedZoneId must be when it points at a load balancer. Public AWS
 * facts (AWS General Reference, "Elastic Load Balancing endpoints and quotas").
 * - `elb`: Application and Classic Load Balancers, `<name>.<region>.elb.amazonaws.com`
 * - `nlb`: Network Load Balancers, `<name>.elb.<region>.amazonaws.com`
 */
export const ELB_CANONICAL_ZONES: Readonly<Record<string, { elb: string; nlb: string }>> = {
  'us-east-1': { elb: 'Z35SXDOTRQ7X7K', nlb: 'Z26RNL4JYFTOTI' },
  'us-east-2': { elb: 'Z3AADJGX6KTTL2', nlb: 'ZLMOA37VPKANP' },
  'us-west-1': { elb: 'Z368ELLRRE2KJ0', nlb: 'Z24FKFUX50B4VW' },
  'us-west-2': { elb: 'Z1H1FL5HABSF5', nlb: 'Z18D5FSROUN65G' },
  'ca-central-1': { elb: 'ZQSVJUPU6J1EY', nlb: 'Z2EPGBW3API2WT' },
  'ca-west-1': { elb: 'Z06473681N0SF6OS049SD', nlb: 'Z02754302KBB00W2LKWZ9' },
  'mx-central-1': { elb: 'Z023552324OKD1BB28BH5', nlb: 'Z02031231H3ID6HYJ9A7U' },
  'sa-east-1': { elb: 'Z2P70J7HTTTPLU', nlb: 'ZTK26PT1VY4CU' },
  'eu-west-1': { elb: 'Z32O12XQLNTSW2', nlb: 'Z2IFOLAFXWLO4F' },
  'eu-west-2': { elb: 'ZHURV8PSTC4K8', nlb: 'ZD4D7Y8KGAS4G' },
  'eu-west-3': { elb: 'Z3Q77PNBQS71R4', nlb: 'Z1CMS0P5QUZ6D5' },
  'eu-central-1': { elb: 'Z215JYRZR1TBD5', nlb: 'Z3F0SRJ5LGBH90' },
  'eu-central-2': { elb: 'Z06391101F2ZOEP8P5EB3', nlb: 'Z02239872DOALSIDCX66S' },
  'eu-north-1': { elb: 'Z23TAZ6LKFMNIO', nlb: 'Z1UDT6IFJ4EJM' },
  'eu-south-1': { elb: 'Z3ULH7SSC9OV64', nlb: 'Z23146JA1KNAFP' },
  'eu-south-2': { elb: 'Z0956581394HF5D5LXGAP', nlb: 'Z1011216NVTVYADP1SSV' },
  'ap-east-1': { elb: 'Z3DQVH9N71FHZ0', nlb: 'Z12Y7K3UBGUAD1' },
  'ap-south-1': { elb: 'ZP97RAFLXTNZK', nlb: 'ZVDDRBQ08TROA' },
  'ap-south-2': { elb: 'Z0173938T07WNTVAEPZN', nlb: 'Z0711778386UTO08407HT' },
  'ap-northeast-1': { elb: 'Z14GRHDCWA56QT', nlb: 'Z31USIVHYNEOWT' },
  'ap-northeast-2': { elb: 'ZWKZPGTI48KDX', nlb: 'ZIBE1TIR4HY56' },
  'ap-northeast-3': { elb: 'Z5LXEXXYW11ES', nlb: 'Z1GWIQ4HH19I5X' },
  'ap-southeast-1': { elb: 'Z1LMS91P8CMLE5', nlb: 'ZKVM4W9LS7TM' },
  'ap-southeast-2': { elb: 'Z1GM3OXH4ZPM65', nlb: 'ZCT6FZBF4DROD' },
  'ap-southeast-3': { elb: 'Z08888821HLRG5A9ZRTER', nlb: 'Z01971771FYVNCOVWJU1G' },
  'ap-southeast-4': { elb: 'Z09517862IB2WZLPXG76F', nlb: 'Z01156963G8MIIL7X90IV' },
  'ap-southeast-5': { elb: 'Z06010284QMVVW7WO5J', nlb: 'Z026317210H9ACVTRO6FB' },
  'ap-southeast-7': { elb: 'Z0390008CMBRTHFGWBCB', nlb: 'Z054363131YWATEMWRG5L' },
  'me-south-1': { elb: 'ZS929ML54UICD', nlb: 'Z3QSRYVP46NYYV' },
  'me-central-1': { elb: 'Z08230872XQRWHG2XF6I', nlb: 'Z00282643NTTLPANJJG2P' },
  'il-central-1': { elb: 'Z09170902867EHPV2DABU', nlb: 'Z0313266YDI6ZRHTGQY4' },
  'af-south-1': { elb: 'Z268VQBMOI5EKX', nlb: 'Z203XCE67M25HM' },
  'cn-north-1': { elb: 'Z1GDH35T77C1KE', nlb: 'Z3QFB96KMJ7ED6' },
  'cn-northwest-1': { elb: 'ZM7IZAIOVVDZF', nlb: 'ZQEIKTCZ8352D' },
  'us-gov-west-1': { elb: 'Z33AYJ8TM3BH4J', nlb: 'ZMG1MZ2THAWF1' },
  'us-gov-east-1': { elb: 'Z166TLBEWOO7G0', nlb: 'Z1ZSMQQ6Q24QQ8' },
};

// `[dualstack.]<name>.<region>.elb.amazonaws.com[.cn]` (ALB, CLB; internal ones too)
const ELB_HOST = /^(?:[a-z0-9-]+\.)+([a-z0-9-]+)\.elb\.amazonaws\.com(?:\.cn)?$/;
// `[dualstack.]<name>.elb.<region>.amazonaws.com[.cn]` (NLB)
const NLB_HOST = /^(?:[a-z0-9-]+\.)+elb\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/**
 * The canonical hosted zone id for a load balancer hostname (lower-case, no trailing dot),
 * or undefined when the name is not an ELB endpoint of a known region.
 */
export function canonicalHostedZoneId(hostname: string): string | undefined {
  const elb = ELB_HOST.exec(hostname);
  if (elb) return ELB_CANONICAL_ZONES[elb[1]!]?.elb;
  const nlb = NLB_HOST.exec(hostname);
  if (nlb) return ELB_CANONICAL_ZONES[nlb[1]!]?.nlb;
  return undefined;
}
