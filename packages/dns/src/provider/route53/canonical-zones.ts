/**
 * Canonical hosted zone ids of the AWS endpoints a Route53 alias record can point at, the
 * table of external-dns v0.22 (provider/aws/aws.go, canonicalHostedZones): what an alias
 * record's AliasTarget.HostedZoneId must be. Public AWS facts (AWS General Reference,
 * "Elastic Load Balancing endpoints", "Amazon API Gateway endpoints", "AWS PrivateLink").
 * - `elb`: Application and Classic Load Balancers, `<name>.<region>.elb.amazonaws.com`
 * - `nlb`: Network Load Balancers, `<name>.elb.<region>.amazonaws.com`
 * (China regions end in `.amazonaws.com.cn`.)
 */
export const ELB_CANONICAL_ZONES: Readonly<Record<string, { elb: string; nlb: string }>> = {
  'af-south-1': { elb: 'Z268VQBMOI5EKX', nlb: 'Z203XCE67M25HM' },
  'ap-east-1': { elb: 'Z3DQVH9N71FHZ0', nlb: 'Z12Y7K3UBGUAD1' },
  'ap-east-2': { elb: 'Z02789141MW7T1WBU19PO', nlb: 'Z09176273OC2HWIAUNYW' },
  'ap-northeast-1': { elb: 'Z14GRHDCWA56QT', nlb: 'Z31USIVHYNEOWT' },
  'ap-northeast-2': { elb: 'ZWKZPGTI48KDX', nlb: 'ZIBE1TIR4HY56' },
  'ap-northeast-3': { elb: 'Z5LXEXXYW11ES', nlb: 'Z1GWIQ4HH19I5X' },
  'ap-south-1': { elb: 'ZP97RAFLXTNZK', nlb: 'ZVDDRBQ08TROA' },
  'ap-south-2': { elb: 'Z0173938T07WNTVAEPZN', nlb: 'Z0711778386UTO08407HT' },
  'ap-southeast-1': { elb: 'Z1LMS91P8CMLE5', nlb: 'ZKVM4W9LS7TM' },
  'ap-southeast-2': { elb: 'Z1GM3OXH4ZPM65', nlb: 'ZCT6FZBF4DROD' },
  'ap-southeast-3': { elb: 'Z08888821HLRG5A9ZRTER', nlb: 'Z01971771FYVNCOVWJU1G' },
  'ap-southeast-4': { elb: 'Z09517862IB2WZLPXG76F', nlb: 'Z01156963G8MIIL7X90IV' },
  'ap-southeast-5': { elb: 'Z06010284QMVVW7WO5J', nlb: 'Z026317210H9ACVTRO6FB' },
  'ap-southeast-6': { elb: 'Z023301818UFJ50CIO0MV', nlb: 'Z01392953RKV2Q3RBP0KU' },
  'ap-southeast-7': { elb: 'Z0390008CMBRTHFGWBCB', nlb: 'Z054363131YWATEMWRG5L' },
  'ca-central-1': { elb: 'ZQSVJUPU6J1EY', nlb: 'Z2EPGBW3API2WT' },
  'ca-west-1': { elb: 'Z06473681N0SF6OS049SD', nlb: 'Z02754302KBB00W2LKWZ9' },
  'cn-north-1': { elb: 'Z1GDH35T77C1KE', nlb: 'Z3QFB96KMJ7ED6' },
  'cn-northwest-1': { elb: 'ZM7IZAIOVVDZF', nlb: 'ZQEIKTCZ8352D' },
  'eu-central-1': { elb: 'Z215JYRZR1TBD5', nlb: 'Z3F0SRJ5LGBH90' },
  'eu-central-2': { elb: 'Z06391101F2ZOEP8P5EB3', nlb: 'Z02239872DOALSIDCX66S' },
  'eu-north-1': { elb: 'Z23TAZ6LKFMNIO', nlb: 'Z1UDT6IFJ4EJM' },
  'eu-south-1': { elb: 'Z3ULH7SSC9OV64', nlb: 'Z23146JA1KNAFP' },
  'eu-south-2': { elb: 'Z0956581394HF5D5LXGAP', nlb: 'Z1011216NVTVYADP1SSV' },
  'eu-west-1': { elb: 'Z32O12XQLNTSW2', nlb: 'Z2IFOLAFXWLO4F' },
  'eu-west-2': { elb: 'ZHURV8PSTC4K8', nlb: 'ZD4D7Y8KGAS4G' },
  'eu-west-3': { elb: 'Z3Q77PNBQS71R4', nlb: 'Z1CMS0P5QUZ6D5' },
  'il-central-1': { elb: 'Z09170902867EHPV2DABU', nlb: 'Z0313266YDI6ZRHTGQY4' },
  'me-central-1': { elb: 'Z08230872XQRWHG2XF6I', nlb: 'Z00282643NTTLPANJJG2P' },
  'me-south-1': { elb: 'ZS929ML54UICD', nlb: 'Z3QSRYVP46NYYV' },
  'mx-central-1': { elb: 'Z023552324OKD1BB28BH5', nlb: 'Z02031231H3ID6HYJ9A7U' },
  'sa-east-1': { elb: 'Z2P70J7HTTTPLU', nlb: 'ZTK26PT1VY4CU' },
  'us-east-1': { elb: 'Z35SXDOTRQ7X7K', nlb: 'Z26RNL4JYFTOTI' },
  'us-east-2': { elb: 'Z3AADJGX6KTTL2', nlb: 'ZLMOA37VPKANP' },
  'us-gov-east-1': { elb: 'Z166TLBEWOO7G0', nlb: 'Z1ZSMQQ6Q24QQ8' },
  'us-gov-west-1': { elb: 'Z33AYJ8TM3BH4J', nlb: 'ZMG1MZ2THAWF1' },
  'us-west-1': { elb: 'Z368ELLRRE2KJ0', nlb: 'Z24FKFUX50B4VW' },
  'us-west-2': { elb: 'Z1H1FL5HABSF5', nlb: 'Z18D5FSROUN65G' },
};

/** VPC endpoints (PrivateLink), `<id>.<region>.vpce.amazonaws.com`. */
const VPCE_CANONICAL_ZONES: Readonly<Record<string, string>> = {
  'af-south-1': 'Z09302161J80N9A7UTP7U',
  'ap-east-1': 'Z2LIHJ7PKBEMWN',
  'ap-east-2': 'Z09379811HWP0POAUWVN3',
  'ap-northeast-1': 'Z2E726K9Y6RL4W',
  'ap-northeast-2': 'Z27UANNT0PRK1T',
  'ap-northeast-3': 'Z376B5OMM2JZL2',
  'ap-south-1': 'Z2KVTB3ZLFM7JR',
  'ap-south-2': 'Z0952991RWSF5AHIQDIY',
  'ap-southeast-1': 'Z18LLCSTV4NVNL',
  'ap-southeast-2': 'ZDK2GCRPAFKGO',
  'ap-southeast-3': 'Z03881013RZ9BYYZO8N5W',
  'ap-southeast-4': 'Z07508191CO1RNBX3X3AU',
  'ca-central-1': 'ZRCXCF510Y6P9',
  'eu-central-1': 'Z273ZU8SZ5RJPC',
  'eu-central-2': 'Z045369019J4FUQ4S272E',
  'eu-north-1': 'Z3OWWK6JFDEDGC',
  'eu-south-1': 'Z2A5FDNRLY7KZG',
  'eu-south-2': 'Z014396544HENR57XQCJ',
  'eu-west-1': 'Z38GZ743OKFT7T',
  'eu-west-2': 'Z7K1066E3PUKB',
  'eu-west-3': 'Z1DWHTMFP0WECP',
  'me-central-1': 'Z07122992YCEUCB9A9570',
  'me-south-1': 'Z3B95P3VBGEQGY',
  'sa-east-1': 'Z2LXUWEVLCVZIB',
  'us-east-1': 'Z7HUB22UULQXV',
  'us-east-2': 'ZC8PG0KIFKBRI',
  'us-gov-east-1': 'Z2MU5TEIGO9WXB',
  'us-gov-west-1': 'Z12529ZODG2B6H',
  'us-west-1': 'Z12I86A8N7VCZO',
  'us-west-2': 'Z1YSA3EXCYUU9Z',
};

/** API Gateway regional endpoints, `<id>.execute-api.<region>.amazonaws.com`. */
const API_GATEWAY_CANONICAL_ZONES: Readonly<Record<string, string>> = {
  'af-south-1': 'Z2DHW2332DAMTN',
  'ap-east-1': 'Z3FD1VL90ND7K5',
  'ap-east-2': 'Z02909591O7FG9Q56HWB1',
  'ap-northeast-1': 'Z1YSHQZHG15GKL',
  'ap-northeast-2': 'Z20JF4UZKIW1U8',
  'ap-south-1': 'Z3VO1THU9YC4UR',
  'ap-southeast-1': 'ZL327KTPIQFUL',
  'ap-southeast-2': 'Z2RPCDW04V8134',
  'ca-central-1': 'Z19DQILCV0OWEC',
  'eu-central-1': 'Z1U9ULNL0V5AJ3',
  'eu-north-1': 'Z3UWIKFBOOGXPP',
  'eu-south-1': 'Z3BT4WSQ9TDYZV',
  'eu-south-2': 'Z02499852UI5HEQ5JVWX3',
  'eu-west-1': 'ZLY8HYME6SFDD',
  'eu-west-2': 'ZJ5UAJN8Y3Z2Q',
  'eu-west-3': 'Z3KY65QIEKYHQQ',
  'me-central-1': 'Z08780021BKYYY8U0YHTV',
  'me-south-1': 'Z20ZBPC0SS8806',
  'sa-east-1': 'ZCMLWB8V5SYIT',
  'us-east-1': 'Z1UJRXOUMOOFQ8',
  'us-east-2': 'ZOJJZC49E0EPZ',
  'us-gov-east-1': 'Z3SE9ATJYCRCZJ',
  'us-gov-west-1': 'Z1K6XKP9SAGWDV',
  'us-west-1': 'Z2MUQ32089INYE',
  'us-west-2': 'Z2OJLYMUO9EFXC',
};

/** Global Accelerator; CloudFront (and API Gateway edge-optimized endpoints, which are CloudFront's). */
const GLOBAL_CANONICAL_ZONES: Readonly<Record<string, string>> = {
  'awsglobalaccelerator.com': 'Z2BJ6XQ5FK7U4H',
  'cloudfront.net': 'Z2FDTNDATAQYW2',
};

/** Every endpoint domain suffix with its zone id, as external-dns keys them. */
const BY_SUFFIX: ReadonlyMap<string, string> = new Map([
  ...Object.entries(ELB_CANONICAL_ZONES).flatMap(([region, { elb, nlb }]) => {
    const tld = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    return [
      [`${region}.elb.${tld}`, elb],
      [`elb.${region}.${tld}`, nlb],
    ] as const;
  }),
  ...Object.entries(VPCE_CANONICAL_ZONES).map(
    ([region, id]) => [`${region}.vpce.amazonaws.com`, id] as const,
  ),
  ...Object.entries(API_GATEWAY_CANONICAL_ZONES).map(
    ([region, id]) => [`execute-api.${region}.amazonaws.com`, id] as const,
  ),
  ...Object.entries(GLOBAL_CANONICAL_ZONES),
]);

/**
 * The canonical hosted zone id for an AWS endpoint hostname (lower-case, no trailing dot),
 * or undefined when it is none of the endpoints above (or in a region not listed). Like
 * external-dns, the shortest matching suffix of two labels or more wins.
 */
export function canonicalHostedZoneId(hostname: string): string | undefined {
  const labels = hostname.split('.');
  for (let i = labels.length - 2; i >= 0; i--) {
    const id = BY_SUFFIX.get(labels.slice(i).join('.'));
    if (id) return id;
  }
  return undefined;
}
