/** A Shopify shop's canonical name: what state tokens carry and what every shop name is turned into. */
export const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$/
