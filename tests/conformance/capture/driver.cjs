// Runs one capture job against whatever AWS_ENDPOINT_URL_LAMBDA / AWS_ENDPOINT_URL_S3 say.
// argv[2]: a JSON file {name, api, options}. Prints one JSON line {ok, error}.
// Options markers: {"__date__": iso} is a Date, {"__repeat__": s, "times": n} is s repeated.
'use strict';
const fs = require('fs');
const client = require('@remotion/lambda-client');

const decode = (value) => {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '__date__') return new Date(value.__date__);
    if (keys.length === 2 && '__repeat__' in value && 'times' in value) {
      return value.__repeat__.repeat(value.times);
    }
    const out = {};
    for (const key of keys) out[key] = decode(value[key]);
    return out;
  }
  return value;
};

const calls = {
  media: client.renderMediaOnLambda,
  still: client.renderStillOnLambda,
  status: client.getRenderProgress,
  compositions: client.getCompositionsOnLambda,
};

const main = async () => {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const call = calls[job.api];
  if (typeof call !== 'function') throw new Error(`this client has no function for ${job.api}`);
  await call(decode(job.options));
};

main().then(
  () => console.log(JSON.stringify({ok: true, error: null})),
  (error) => console.log(JSON.stringify({
    ok: false, error: String((error && error.message) || error).split('\n')[0].slice(0, 300),
  })),
);
