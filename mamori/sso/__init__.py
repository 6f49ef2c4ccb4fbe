"""Single sign-on (OIDC and SAML) per tenant."""
