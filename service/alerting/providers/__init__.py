"""Providers that carry messages: Twilio, the log; a domestic SMS gateway would fit the same
interface (`service.alerting.providers.base.Provider`)."""
