// Drives OrderCloud's own JavaScript SDK (ordercloud-javascript-sdk 12, unchanged) against
// the service's one origin, one check per SDK method. Started by
// tests/e2e/test_ordercloud_sdk.py with a JSON context as its argument; prints one JSON
// line per method: {"method": "Buyers.List", "ok": true} or {..., "ok": false, "error": "..."}.
// A check passes only if the SDK call resolves and what it returns (or what a following
// read shows) is what OrderCloud's documentation says.
'use strict'

const assert = require('node:assert/strict')
const http = require('node:http')
const oc = require('ordercloud-javascript-sdk')

const context = JSON.parse(process.argv[2])
oc.Configuration.Set({
  baseApiUrl: context.baseApiUrl,
  clientID: context.clientID,
  timeoutInMilliseconds: 30000,
})

const results = new Map()
const state = {}
const run = `r${Date.now().toString(36)}`

function describe(error) {
  if (error && error.isOrderCloudError) {
    return `HTTP ${error.status} ${error.errorCode || ''}: ${error.message}`.slice(0, 300)
  }
  return String(error && error.stack ? error.stack.split('\n').slice(0, 2).join(' ') : error).slice(0, 300)
}

async function check(method, body) {
  try {
    await body()
    results.set(method, { method, ok: true })
  } catch (error) {
    results.set(method, { method, ok: false, error: describe(error) })
  }
}

// The call must fail with this HTTP status (an OrderCloudError the SDK could read).
async function rejectsWith(status, call) {
  let failure = null
  try {
    await call()
  } catch (error) {
    failure = error
  }
  assert.ok(failure, `expected HTTP ${status}, the call succeeded`)
  assert.equal(failure.isOrderCloudError, true, `not an OrderCloudError: ${describe(failure)}`)
  assert.equal(failure.status, status)
}

const ids = (page) => page.Items.map((item) => item.ID)

// --- a webhook endpoint of our own, where the one-time passwords arrive -------------------
const received = []
const hooks = http.createServer((request, response) => {
  let body = ''
  request.on('data', (chunk) => (body += chunk))
  request.on('end', () => {
    try {
      received.push(JSON.parse(body))
    } catch (_) {}
    response.writeHead(204)
    response.end()
  })
})

async function codeFor(username, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const message = received.find((m) => m.EventBody && m.EventBody.Username === username)
    if (message) return message.EventBody.OneTimePassword
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`no one-time password arrived for ${username}`)
}

// --- the checks, in the order an integrator would use them ----------------------------------
async function authAsAdmin() {
  await check('Auth.Login', async () => {
    const token = await oc.Auth.Login(context.adminUsername, context.adminPassword, context.clientID, ['FullAccess'])
    assert.equal(typeof token.access_token, 'string')
    assert.equal(token.token_type.toLowerCase(), 'bearer')
    oc.Tokens.SetAccessToken(token.access_token)
    state.adminRefresh = token.refresh_token
  })
  if (!results.get('Auth.Login').ok) {
    // Nothing else can run without a token: report it and stop.
    for (const line of results.values()) console.log(JSON.stringify(line))
    process.exit(0)
  }
}

async function buyers() {
  const id = `${run}-buyer`
  await check('Buyers.Create', async () => {
    const buyer = await oc.Buyers.Create({ ID: id, Name: 'Acme Wholesale', Active: true, xp: { Tier: 'gold' } })
    assert.equal(buyer.ID, id)
    assert.equal(buyer.Name, 'Acme Wholesale')
    assert.deepEqual(buyer.xp, { Tier: 'gold' })
  })
  state.buyerID = id
  await check('Buyers.Get', async () => {
    const buyer = await oc.Buyers.Get(id)
    assert.equal(buyer.Name, 'Acme Wholesale')
    await rejectsWith(404, () => oc.Buyers.Get(`${run}-no-such-buyer`))
  })
  await check('Buyers.List', async () => {
    await oc.Buyers.Create({ ID: `${id}-off`, Name: 'Dormant', Active: false })
    assert.deepEqual(ids(await oc.Buyers.List({ filters: { ID: `${run}-*`, Active: 'false' } })), [`${id}-off`])
    assert.deepEqual(ids(await oc.Buyers.List({ filters: { 'xp.Tier': 'gold' }, search: run })), [id])
    assert.deepEqual(ids(await oc.Buyers.List({ search: 'wholesale', searchOn: ['Name'] })), [id])
    const sorted = await oc.Buyers.List({ filters: { ID: `${run}-*` }, sortBy: ['!Name'], pageSize: 1 })
    assert.deepEqual(ids(sorted), [`${id}-off`])
    assert.equal(sorted.Meta.TotalCount, 2)
    assert.equal(sorted.Meta.TotalPages, 2)
  })
  await check('Buyers.Patch', async () => {
    const buyer = await oc.Buyers.Patch(id, { xp: { Region: 'US' } })
    assert.deepEqual(buyer.xp, { Tier: 'gold', Region: 'US' }) // xp merged key by key
    const renamed = await oc.Buyers.Patch(id, { Name: 'Acme' })
    assert.equal(renamed.Name, 'Acme')
    assert.equal(renamed.Active, true)
  })
  await check('Buyers.Save', async () => {
    const replaced = await oc.Buyers.Save(`${id}-off`, { Name: 'Dormant Co', Active: false })
    assert.equal(replaced.Name, 'Dormant Co')
    const created = await oc.Buyers.Save(`${id}-new`, { Name: 'Saved New', Active: true })
    assert.equal(created.ID, `${id}-new`) // PUT creates, as OrderCloud's Save does
  })
  await check('Buyers.Delete', async () => {
    await oc.Buyers.Delete(`${id}-off`)
    await rejectsWith(404, () => oc.Buyers.Get(`${id}-off`))
  })
  await check('Buyers.ListBuyerSellers', async () => {
    const page = await oc.Buyers.ListBuyerSellers(id)
    assert.ok(Array.isArray(page.Items))
  })
}

async function apiClients() {
  let clientID = null
  await check('ApiClients.Create', async () => {
    const client = await oc.ApiClients.Create({
      AppName: `${run} storefront`,
      Active: true,
      AccessTokenDuration: 600,
      AllowAnyBuyer: false,
      AllowSeller: false,
      xp: { Channel: 'web' },
    })
    assert.equal(typeof client.ID, 'string')
    assert.equal(client.AppName, `${run} storefront`)
    assert.equal(client.ClientSecret, undefined)
    clientID = client.ID
  })
  state.storefrontID = clientID
  await check('ApiClients.Get', async () => {
    const client = await oc.ApiClients.Get(clientID)
    assert.equal(client.AppName, `${run} storefront`)
  })
  await check('ApiClients.List', async () => {
    assert.deepEqual(ids(await oc.ApiClients.List({ search: run })), [clientID])
    assert.deepEqual(ids(await oc.ApiClients.List({ filters: { 'xp.Channel': 'web', AppName: `${run}*` } })), [clientID])
    assert.deepEqual(ids(await oc.ApiClients.List({ filters: { AppName: `${run}*`, Active: 'false' } })), [])
  })
  await check('ApiClients.Patch', async () => {
    const client = await oc.ApiClients.Patch(clientID, { AppName: `${run} shop` })
    assert.equal(client.AppName, `${run} shop`)
    assert.equal(client.AccessTokenDuration, 600)
  })
  await check('ApiClients.Save', async () => {
    const saved = await oc.ApiClients.Save(clientID, { AppName: `${run} saved`, Active: true, AccessTokenDuration: 300 })
    assert.equal(saved.AccessTokenDuration, 300)
    const created = await oc.ApiClients.Save(`${run}-client`, { AppName: `${run} put`, Active: true })
    assert.equal(created.ID, `${run}-client`)
  })
  await check('ApiClients.SaveAssignment', async () => {
    await oc.ApiClients.SaveAssignment({ ApiClientID: clientID, BuyerID: state.buyerID })
  })
  await check('ApiClients.ListAssignments', async () => {
    const page = await oc.ApiClients.ListAssignments({ apiClientID: clientID })
    assert.equal(page.Items.length, 1)
    assert.equal(page.Items[0].ApiClientID, clientID)
    assert.equal(page.Items[0].BuyerID, state.buyerID)
  })
  await check('ApiClients.DeleteBuyerAssignment', async () => {
    await oc.ApiClients.DeleteBuyerAssignment(clientID, state.buyerID)
    const page = await oc.ApiClients.ListAssignments({ apiClientID: clientID })
    assert.deepEqual(page.Items, [])
  })
  await check('ApiClients.DeleteSupplierAssignment', async () => {
    await oc.ApiClients.DeleteSupplierAssignment(clientID, `${run}-supplier`)
  })
  await check('ApiClients.CreateSecret', async () => {
    const secret = await oc.ApiClients.CreateSecret(clientID, { Description: 'ci' })
    assert.equal(typeof secret.ClientSecret, 'string')
    state.secretID = secret.ID
  })
  await check('ApiClients.ListSecrets', async () => {
    assert.ok((await oc.ApiClients.ListSecrets(clientID)).Items.length >= 1)
  })
  await check('ApiClients.GetSecret', async () => {
    assert.equal((await oc.ApiClients.GetSecret(clientID, state.secretID)).ID, state.secretID)
  })
  await check('ApiClients.PatchSecret', async () => {
    const patched = await oc.ApiClients.PatchSecret(clientID, state.secretID, { Description: 'renamed' })
    assert.equal(patched.Description, 'renamed')
  })
  await check('ApiClients.DeleteSecret', async () => {
    await oc.ApiClients.DeleteSecret(clientID, state.secretID)
  })
  await check('ApiClients.Delete', async () => {
    const doomed = await oc.ApiClients.Create({ AppName: `${run} doomed`, Active: true })
    await oc.ApiClients.Delete(doomed.ID)
    await rejectsWith(404, () => oc.ApiClients.Get(doomed.ID))
  })
}

async function securityProfiles() {
  const id = `${run}-shopper`
  await check('SecurityProfiles.Create', async () => {
    const profile = await oc.SecurityProfiles.Create({ ID: id, Name: 'Shopper', Roles: ['Shopper', 'MeAdmin'] })
    assert.deepEqual(profile.Roles, ['Shopper', 'MeAdmin'])
  })
  await check('SecurityProfiles.Get', async () => {
    assert.equal((await oc.SecurityProfiles.Get(id)).Name, 'Shopper')
  })
  await check('SecurityProfiles.List', async () => {
    assert.deepEqual(ids(await oc.SecurityProfiles.List({ search: run, sortBy: ['Name'] })), [id])
    assert.deepEqual(ids(await oc.SecurityProfiles.List({ filters: { Name: 'shop*', ID: `${run}*` } })), [id])
  })
  await check('SecurityProfiles.Patch', async () => {
    assert.equal((await oc.SecurityProfiles.Patch(id, { Name: 'Shoppers' })).Name, 'Shoppers')
  })
  await check('SecurityProfiles.Save', async () => {
    const saved = await oc.SecurityProfiles.Save(id, { Name: 'Shoppers', Roles: ['Shopper', 'MeAdmin', 'MeAddressAdmin'] })
    assert.deepEqual(saved.Roles, ['Shopper', 'MeAdmin', 'MeAddressAdmin'])
    const created = await oc.SecurityProfiles.Save(`${id}-2`, { Name: 'Second', Roles: ['BuyerReader'] })
    assert.equal(created.ID, `${id}-2`)
  })
  await check('SecurityProfiles.SaveAssignment', async () => {
    await oc.SecurityProfiles.SaveAssignment({ SecurityProfileID: id, BuyerID: state.buyerID })
  })
  await check('SecurityProfiles.ListAssignments', async () => {
    const page = await oc.SecurityProfiles.ListAssignments({ securityProfileID: id, buyerID: state.buyerID, level: 'Company' })
    assert.equal(page.Items.length, 1)
    assert.equal(page.Items[0].SecurityProfileID, id)
    assert.equal(page.Items[0].BuyerID, state.buyerID)
  })
  await check('SecurityProfiles.DeleteAssignment', async () => {
    await oc.SecurityProfiles.Create({ ID: `${id}-3`, Name: 'Third', Roles: ['BuyerReader'] })
    await oc.SecurityProfiles.SaveAssignment({ SecurityProfileID: `${id}-3`, BuyerID: state.buyerID })
    await oc.SecurityProfiles.DeleteAssignment(`${id}-3`, { buyerID: state.buyerID })
    const page = await oc.SecurityProfiles.ListAssignments({ securityProfileID: `${id}-3` })
    assert.deepEqual(page.Items, [])
  })
  await check('SecurityProfiles.Delete', async () => {
    await oc.SecurityProfiles.Create({ ID: `${id}-4`, Name: 'Fourth', Roles: ['BuyerReader'] })
    await oc.SecurityProfiles.Delete(`${id}-4`)
    await rejectsWith(404, () => oc.SecurityProfiles.Get(`${id}-4`))
  })
}

async function messaging(hooksUrl) {
  const configID = `${run}-hooks`
  await check('DeliveryConfigurations.Create', async () => {
    const config = await oc.DeliveryConfigurations.Create({
      ID: configID,
      Name: 'Hooks',
      Enabled: true,
      DeliveryTargets: { Http: { Endpoint: hooksUrl, Secret: 'shh-secret-0123456789' } },
    })
    assert.equal(config.ID, configID)
    assert.equal(config.DeliveryTargets.Http.Endpoint, hooksUrl)
    assert.equal(config.DeliveryTargets.Http.Secret, undefined) // write-only
  })
  await check('DeliveryConfigurations.Get', async () => {
    assert.equal((await oc.DeliveryConfigurations.Get(configID)).Name, 'Hooks')
  })
  await check('DeliveryConfigurations.List', async () => {
    assert.deepEqual(ids(await oc.DeliveryConfigurations.List({ filters: { Enabled: 'true', ID: `${run}*` } })), [configID])
  })
  await check('DeliveryConfigurations.Patch', async () => {
    assert.equal((await oc.DeliveryConfigurations.Patch(configID, { Name: 'Webhooks' })).Name, 'Webhooks')
  })
  await check('DeliveryConfigurations.Save', async () => {
    const body = { Name: 'Spare', DeliveryTargets: { Http: { Endpoint: hooksUrl, Secret: 'another-secret-0123' } } }
    assert.equal((await oc.DeliveryConfigurations.Save(`${configID}-2`, body)).ID, `${configID}-2`)
  })
  await check('DeliveryConfigurations.Delete', async () => {
    const body = { ID: `${configID}-3`, Name: 'Doomed', DeliveryTargets: { Http: { Endpoint: hooksUrl, Secret: 'doomed-secret-0123' } } }
    await oc.DeliveryConfigurations.Create(body)
    await oc.DeliveryConfigurations.Delete(`${configID}-3`)
    await rejectsWith(404, () => oc.DeliveryConfigurations.Get(`${configID}-3`))
  })

  const senderID = `${run}-otp`
  await check('MessageSenders.Create', async () => {
    const sender = await oc.MessageSenders.Create({
      ID: senderID,
      Name: 'One-time passwords',
      MessageTypes: ['OneTimePassword'],
      DeliveryConfigID: configID,
      AllowAllBuyers: false,
    })
    assert.deepEqual(sender.MessageTypes, ['OneTimePassword'])
    assert.equal(sender.DeliveryConfigID, configID)
  })
  await check('MessageSenders.Get', async () => {
    assert.equal((await oc.MessageSenders.Get(senderID)).Name, 'One-time passwords')
  })
  await check('MessageSenders.List', async () => {
    assert.deepEqual(ids(await oc.MessageSenders.List({ filters: { DeliveryConfigID: configID } })), [senderID])
  })
  await check('MessageSenders.Patch', async () => {
    assert.equal((await oc.MessageSenders.Patch(senderID, { Description: 'OTP' })).Description, 'OTP')
  })
  await check('MessageSenders.Save', async () => {
    const body = { Name: 'Spare', MessageTypes: ['OneTimePassword'], DeliveryConfigID: configID }
    assert.equal((await oc.MessageSenders.Save(`${senderID}-2`, body)).ID, `${senderID}-2`)
  })
  await check('MessageSenders.SaveAssignment', async () => {
    await oc.MessageSenders.SaveAssignment({ MessageSenderID: senderID, BuyerID: state.buyerID })
  })
  await check('MessageSenders.ListAssignments', async () => {
    const page = await oc.MessageSenders.ListAssignments({ messageSenderID: senderID })
    assert.equal(page.Items.length, 1)
    assert.equal(page.Items[0].BuyerID, state.buyerID)
  })
  const spare = (n) => ({ ID: `${senderID}-${n}`, Name: 'Spare', MessageTypes: ['OneTimePassword'], DeliveryConfigID: configID })
  await check('MessageSenders.DeleteAssignment', async () => {
    await oc.MessageSenders.Create(spare(3))
    await oc.MessageSenders.SaveAssignment({ MessageSenderID: `${senderID}-3`, BuyerID: state.buyerID })
    await oc.MessageSenders.DeleteAssignment(`${senderID}-3`, { buyerID: state.buyerID })
    assert.deepEqual((await oc.MessageSenders.ListAssignments({ messageSenderID: `${senderID}-3` })).Items, [])
  })
  await check('MessageSenders.Delete', async () => {
    await oc.MessageSenders.Create(spare(4))
    await oc.MessageSenders.Delete(`${senderID}-4`)
    await rejectsWith(404, () => oc.MessageSenders.Get(`${senderID}-4`))
  })
  await check('MessageSenders.ListCCListenerAssignments', async () => {
    assert.ok(Array.isArray((await oc.MessageSenders.ListCCListenerAssignments()).Items))
  })
  await check('MessageSenders.SaveCCListenerAssignment', async () => {
    await oc.MessageSenders.SaveCCListenerAssignment({
      MessageSenderAssignment: { MessageSenderID: senderID, BuyerID: state.buyerID },
      MessageConfigName: 'OneTimePassword',
      MessageConfigDescription: 'cc',
      MessageType: 'OneTimePassword',
      CCListenerEmails: ['cc@example.com'],
    })
  })
}

async function users() {
  const buyerID = state.buyerID
  const user = (n, extra = {}) => ({
    ID: `${run}-u${n}`,
    Username: `${run}-user${n}`,
    FirstName: n === 1 ? 'Ann' : 'Bob',
    LastName: 'Lee',
    Email: `${run}-user${n}@example.com`,
    Active: true,
    ...extra,
  })
  await check('Users.Create', async () => {
    const created = await oc.Users.Create(buyerID, user(1, { Password: 'Correct-Horse-9', xp: { Tier: 'gold' } }))
    assert.equal(created.Username, `${run}-user1`)
    assert.equal(created.Password, undefined)
    await oc.Users.Create(buyerID, user(2, { Active: false }))
  })
  await check('Users.Get', async () => {
    assert.equal((await oc.Users.Get(buyerID, `${run}-u1`)).FirstName, 'Ann')
    await rejectsWith(404, () => oc.Users.Get(buyerID, `${run}-nobody`))
  })
  await check('Users.List', async () => {
    assert.deepEqual(ids(await oc.Users.List(buyerID, { filters: { Active: 'false' } })), [`${run}-u2`])
    assert.deepEqual(ids(await oc.Users.List(buyerID, { filters: { 'xp.Tier': 'gold|silver' } })), [`${run}-u1`])
    assert.deepEqual(ids(await oc.Users.List(buyerID, { search: 'ann', searchOn: ['FirstName'] })), [`${run}-u1`])
    assert.deepEqual(ids(await oc.Users.List(buyerID, { sortBy: ['!DateCreated'] })), [`${run}-u2`, `${run}-u1`])
    assert.deepEqual(ids(await oc.Users.List(buyerID, { filters: { Username: `!${run}-user1` } })), [`${run}-u2`])
  })
  await check('Users.Patch', async () => {
    const patched = await oc.Users.Patch(buyerID, `${run}-u1`, { xp: { Region: 'US' } })
    assert.deepEqual(patched.xp, { Tier: 'gold', Region: 'US' })
  })
  await check('Users.Save', async () => {
    const saved = await oc.Users.Save(buyerID, `${run}-u2`, user(2, { Active: true, FirstName: 'Robert' }))
    assert.equal(saved.FirstName, 'Robert')
    const created = await oc.Users.Save(buyerID, `${run}-u3`, user(3))
    assert.equal(created.ID, `${run}-u3`)
  })
  await check('Users.UnlockUserAccount', async () => {
    await oc.Users.UnlockUserAccount(buyerID, `${run}-u1`)
  })
  await check('Users.RevokeUserTokens', async () => {
    await oc.Users.RevokeUserTokens(buyerID, `${run}-u2`)
  })
  await check('Users.GetAccessToken', async () => {
    const token = await oc.Users.GetAccessToken(buyerID, `${run}-u1`, { ClientID: context.clientID, Roles: ['Shopper'] })
    assert.equal(typeof token.access_token, 'string')
  })
  await check('Users.ListAcrossBuyers', async () => {
    assert.ok(ids(await oc.Users.ListAcrossBuyers({ search: run })).includes(`${run}-u1`))
  })
  await check('Users.Move', async () => {
    await oc.Buyers.Create({ ID: `${run}-other`, Name: 'Other' })
    const moved = await oc.Users.Move(buyerID, `${run}-u3`, `${run}-other`)
    assert.equal(moved.ID, `${run}-u3`)
  })
  await check('Users.Delete', async () => {
    await oc.Users.Delete(buyerID, `${run}-u2`)
    await rejectsWith(404, () => oc.Users.Get(buyerID, `${run}-u2`))
  })
}

async function adminUsers() {
  const id = `${run}-admin`
  const body = { Username: `${run}-admin`, FirstName: 'Ada', LastName: 'Admin', Email: `${run}-admin@example.com`, Active: true }
  await check('AdminUsers.Create', async () => {
    assert.equal((await oc.AdminUsers.Create({ ID: id, ...body })).ID, id)
  })
  await check('AdminUsers.Get', async () => {
    assert.equal((await oc.AdminUsers.Get(id)).FirstName, 'Ada')
  })
  await check('AdminUsers.List', async () => {
    assert.deepEqual(ids(await oc.AdminUsers.List({ filters: { Username: `${run}*` }, sortBy: ['Username'] })), [id])
    assert.deepEqual(ids(await oc.AdminUsers.List({ search: `${run}-admin`, searchOn: ['Email'] })), [id])
  })
  await check('AdminUsers.Patch', async () => {
    assert.equal((await oc.AdminUsers.Patch(id, { LastName: 'Lovelace' })).LastName, 'Lovelace')
  })
  await check('AdminUsers.Save', async () => {
    assert.equal((await oc.AdminUsers.Save(id, { ...body, FirstName: 'Augusta' })).FirstName, 'Augusta')
    const created = await oc.AdminUsers.Save(`${id}-2`, { ...body, Username: `${run}-admin2`, Email: `${run}-a2@example.com` })
    assert.equal(created.ID, `${id}-2`)
  })
  await check('AdminUsers.UnlockUserAccount', async () => {
    await oc.AdminUsers.UnlockUserAccount(id)
  })
  await check('AdminUsers.RevokeUserTokens', async () => {
    await oc.AdminUsers.RevokeUserTokens(id)
  })
  await check('AdminUsers.Delete', async () => {
    await oc.AdminUsers.Create({ ...body, ID: `${id}-3`, Username: `${run}-admin3`, Email: `${run}-a3@example.com` })
    await oc.AdminUsers.Delete(`${id}-3`)
    await rejectsWith(404, () => oc.AdminUsers.Get(`${id}-3`))
  })
}

async function oneTimePasswordLogin() {
  // The buyer's users may sign in with the storefront client, which the Shopper profile
  // reaches through the buyer.
  const storefront = context.storefrontID
  await oc.ApiClients.SaveAssignment({ ApiClientID: storefront, BuyerID: state.buyerID })
  await oc.SecurityProfiles.SaveAssignment({ SecurityProfileID: `${run}-shopper`, BuyerID: state.buyerID })
  const username = `${run}-user1`
  await check('ForgottenCredentials.SendOneTimePassword', async () => {
    await oc.ForgottenCredentials.SendOneTimePassword({ ClientID: storefront, Username: username })
    state.code = await codeFor(username)
    assert.match(state.code, /^\S+$/)
  })
  await check('Me.Get', async () => {
    const token = await oc.Auth.Login(username, state.code, storefront, ['Shopper', 'MeAdmin'])
    state.buyerToken = token
    const me = await oc.Me.Get({ accessToken: token.access_token })
    assert.equal(me.Username, username)
    assert.equal(me.ID, `${run}-u1`)
    // The code was used up by the login.
    await rejectsWith(400, () => oc.Auth.Login(username, state.code, storefront))
  })
  await check('Auth.RefreshToken', async () => {
    assert.ok(state.buyerToken.refresh_token, 'the storefront issues no refresh token')
    const token = await oc.Auth.RefreshToken(state.buyerToken.refresh_token, storefront)
    assert.equal(typeof token.access_token, 'string')
  })
  await check('Auth.ClientCredentials', async () => {
    const token = await oc.Auth.ClientCredentials(context.clientSecret, context.secretClientID, ['FullAccess'])
    assert.equal(typeof token.access_token, 'string')
  })
  await check('Auth.ElevatedLogin', async () => {
    const token = await oc.Auth.ElevatedLogin(context.clientSecret, context.adminUsername, context.adminPassword, context.secretClientID, ['FullAccess'])
    assert.equal(typeof token.access_token, 'string')
  })
  await check('Auth.Anonymous', async () => {
    const token = await oc.Auth.Anonymous(storefront, ['Shopper'])
    assert.equal(typeof token.access_token, 'string')
  })
}

// Every method of the resources the service serves (not As(), which only changes the token
// used), plus the single methods it claims from resources it serves in part.
const WHOLE_RESOURCES = ['ApiClients', 'Buyers', 'Users', 'AdminUsers', 'SecurityProfiles', 'MessageSenders', 'DeliveryConfigurations', 'Auth']
const SINGLE_METHODS = ['ForgottenCredentials.SendOneTimePassword', 'Me.Get']

function sdkMethods() {
  const names = [...SINGLE_METHODS]
  for (const resource of WHOLE_RESOURCES) {
    const api = oc[resource]
    for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(api))) {
      if (name !== 'constructor' && name !== 'As' && typeof api[name] === 'function') {
        names.push(`${resource}.${name}`)
      }
    }
  }
  return names.sort()
}

async function main() {
  console.log(JSON.stringify({ sdk: sdkMethods(), version: require('ordercloud-javascript-sdk/package.json').version }))
  await new Promise((resolve) => hooks.listen(0, '127.0.0.1', resolve))
  const hooksUrl = `http://127.0.0.1:${hooks.address().port}/hooks`
  try {
    await authAsAdmin()
    await buyers()
    await apiClients()
    await securityProfiles()
    await messaging(hooksUrl)
    await users()
    await adminUsers()
    await oneTimePasswordLogin()
  } catch (error) {
    console.log(JSON.stringify({ method: '(driver)', ok: false, error: describe(error) }))
  } finally {
    hooks.close()
  }
  for (const line of results.values()) console.log(JSON.stringify(line))
}

main()
