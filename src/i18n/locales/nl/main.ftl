# shop-accounts — Nederlandse catalogus. Dezelfde sleutels als de Engelse.

shop-name = Winkel
nav-sign-in = Aanmelden
nav-create-account = Account aanmaken
nav-my-account = Mijn account
nav-sign-out = Afmelden
nav-welcome = Welkom, { $name }!
nav-skip = Naar de inhoud
footer-language = Taal
footer-note = Uw account, uw gegevens: wij tonen of versturen uw wachtwoord nooit.

home-title = Start
home-heading = Welkom in onze winkel
home-intro = Meld u aan om uw account te bekijken, of maak er in een minuut een aan.
home-signed-in = U bent aangemeld. Beheer uw account en wachtwoord via Mijn account.

field-firstname = Voornaam
field-lastname = Achternaam
field-email = E-mailadres
field-password = Wachtwoord
field-password-confirmation = Wachtwoord bevestigen
field-current-password = Huidig wachtwoord
field-new-password = Nieuw wachtwoord
field-confirm-new-password = Nieuw wachtwoord bevestigen
field-required-note = * Verplichte velden
password-show = Wachtwoord tonen
password-hint = Minimaal { $min } tekens, zonder spaties.
password-strength = Wachtwoordsterkte
password-strength-none = Geen wachtwoord
password-strength-weak = Zwak
password-strength-medium = Redelijk
password-strength-strong = Sterk
password-strength-very-strong = Zeer sterk

register-title = Nieuw klantaccount aanmaken
register-personal = Persoonlijke gegevens
register-signin-info = Aanmeldgegevens
register-button = Account aanmaken
register-success = Bedankt voor uw registratie bij onze winkel.
register-email-taken = Er bestaat al een account met dit e-mailadres.

login-title = Klant aanmelden
login-registered = Geregistreerde klanten
login-registered-intro = Als u een account hebt, meld u dan aan met uw e-mailadres.
login-new = Nieuwe klanten
login-new-intro = Een account heeft veel voordelen: sneller afrekenen, meerdere adressen bewaren, bestellingen volgen en meer.
login-button = Aanmelden
login-forgot-link = Wachtwoord vergeten?
login-failed = De aanmelding bij het account was onjuist of uw account is tijdelijk uitgeschakeld. Wacht even en probeer het later opnieuw.
logout-success = U bent afgemeld.

account-title = Mijn account
account-information = Accountgegevens
account-contact = Contactgegevens
account-member-since = Klant sinds { $date }
account-change-password = Wachtwoord wijzigen
account-nav-dashboard = Accountoverzicht
account-nav-edit = Accountgegevens

edit-title = Wachtwoord wijzigen
edit-intro = Voer uw huidige wachtwoord in en kies daarna een nieuw. Uw andere apparaten worden afgemeld.
edit-button = Opslaan
edit-wrong-current = Het wachtwoord hoort niet bij dit account. Controleer het wachtwoord en probeer het opnieuw.
password-updated = U hebt uw wachtwoord bijgewerkt.

forgot-title = Wachtwoord vergeten?
forgot-intro = Vul hieronder uw e-mailadres in om een link te ontvangen waarmee u uw wachtwoord opnieuw instelt.
forgot-button = Mijn wachtwoord opnieuw instellen
forgot-back = Terug
forgot-sent = Als er een account bij { $email } hoort, ontvangt u een e-mail met een link om uw wachtwoord opnieuw in te stellen.
reset-limit = Te veel verzoeken om het wachtwoord opnieuw in te stellen. Wacht even en probeer het opnieuw, of neem contact op met { $support }.
reset-link-expired = Uw link om het wachtwoord opnieuw in te stellen is verlopen.

create-password-title = Nieuw wachtwoord instellen
create-password-intro = Kies een nieuw wachtwoord voor uw account. Meld u daarna daarmee aan.
create-password-button = Wachtwoord opnieuw instellen

error-required-field = Dit is een verplicht veld.
error-email-invalid = Vul een geldig e-mailadres in (bijv. jandejong@domein.nl).
error-email-too-long = Het e-mailadres is te lang.
error-name-invalid = Gebruik hoogstens 255 tekens, zonder stuurtekens.
password-too-short = Het wachtwoord moet minimaal { $min } tekens bevatten. Kies een ander wachtwoord en probeer het opnieuw.
password-too-long = Gebruik een wachtwoord van hoogstens { $max } tekens.
password-has-spaces = Het wachtwoord mag geen spaties bevatten.
password-same-as-email = Het wachtwoord mag niet gelijk zijn aan het e-mailadres. Kies een ander wachtwoord en probeer het opnieuw.
password-missing-classes = Het wachtwoord moet minimaal { $count } soorten tekens bevatten. Soorten tekens: kleine letters, hoofdletters, cijfers, speciale tekens.
password-too-common = Dit wachtwoord komt te vaak voor en is makkelijk te raden. Kies een minder gebruikelijk wachtwoord.
password-mismatch = De waarden van Nieuw wachtwoord en Nieuw wachtwoord bevestigen komen niet overeen.

error-title = Er is iets misgegaan
error-bad-request = Het verzoek kon niet worden begrepen. Controleer wat u hebt ingevuld en probeer het opnieuw.
error-forbidden = Deze actie is niet toegestaan. Laad de pagina opnieuw en probeer het nogmaals.
error-not-found = We kunnen de gevraagde pagina niet vinden.
error-timeout = Het verzoek duurde te lang. Probeer het opnieuw.
error-too-large = Het verzoek is te groot.
error-internal = Er ging bij ons iets mis. Probeer het over een ogenblik opnieuw.
error-home = Naar de startpagina

api-not-found = Het verzoek past bij geen enkele route.
api-invalid-body = De inhoud van het verzoek is geen geldige JSON in de verwachte vorm.
api-unauthorized = De gebruiker heeft geen toegang tot dit account.

email-greeting = Beste { $name },
email-reset-subject = Stel uw wachtwoord opnieuw in
email-reset-intro = Er is zojuist gevraagd om het wachtwoord van uw account te wijzigen. Als u dat was, stel hier een nieuw wachtwoord in:
email-reset-button = Nieuw wachtwoord instellen
email-reset-expiry = Deze link werkt één keer en verloopt over { $hours } uur.
email-reset-ignore = Hebt u hier niet om gevraagd? Dan kunt u deze e-mail negeren; uw wachtwoord blijft dan hetzelfde.
email-changed-subject = Uw wachtwoord is gewijzigd
email-changed-intro = Het wachtwoord van uw account is zojuist gewijzigd. Alle apparaten die waren aangemeld, zijn afgemeld.
email-changed-not-you = Hebt u dit niet zelf gedaan? Stel dan meteen een nieuw wachtwoord in en neem contact op met { $support }.
email-footer = Vragen? Schrijf naar { $support }.

# Beheer
admin-name = Winkelbeheer
admin-nav-customers = Klanten
admin-nav-config = Wachtwoordopties
admin-nav-audit = Auditlogboek
admin-nav-mail = Mailwachtrij
