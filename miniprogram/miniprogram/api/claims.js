const { call, upload } = require('./request')

module.exports = {
  // {membership_id, incident, illness, occurred_on, description}
  createClaim: (body, options) => call('createClaim', Object.assign({ data: body }, options)),
  listClaims: options => call('listClaims', options),
  getClaim: (id, options) => call('getClaim', Object.assign({ params: { id } }, options)),
  uploadClaimDocument: (id, filePath, kind, options) =>
    upload('uploadClaimDocument', Object.assign({ params: { id }, filePath, formData: { kind } }, options)),
}
