const { call, upload } = require('./request')

module.exports = {
  // {membership_id, incident_type, incident_date, diagnosis, diagnosis_date, hospital, city, description}
  createClaim: (body, options) => call('createClaim', Object.assign({ data: body }, options)),
  listClaims: options => call('listClaims', options),
  getClaim: (id, options) => call('getClaim', Object.assign({ params: { id } }, options)),
  // after wx.requestMerchantTransfer succeeded (payout.transfer)
  confirmPayout: (id, options) => call('confirmPayout', Object.assign({ params: { id }, data: {} }, options)),
  // one JPEG/PNG/PDF per call, multipart field `file`
  uploadClaimDocument: (id, filePath, options) =>
    upload('uploadClaimDocument', Object.assign({ params: { id }, filePath }, options)),
}
