# shop-accounts — English catalog. Keys are shared by pages, messages and emails.

shop-name = Shop
nav-sign-in = Sign In
nav-create-account = Create an Account
nav-my-account = My Account
nav-sign-out = Sign Out
nav-welcome = Welcome, { $name }!
nav-skip = Skip to content
footer-language = Language
footer-note = Your account, your data: we never show or send your password.

home-title = Home
home-heading = Welcome to our shop
home-intro = Sign in to see your account, or create one in a minute.
home-signed-in = You are signed in. Manage your account and password from My Account.

field-firstname = First Name
field-lastname = Last Name
field-email = Email
field-password = Password
field-password-confirmation = Confirm Password
field-current-password = Current Password
field-new-password = New Password
field-confirm-new-password = Confirm New Password
field-required-note = * Required Fields
password-show = Show password
password-hint = At least { $min } characters, no spaces.
password-strength = Password Strength
password-strength-none = No Password
password-strength-weak = Weak
password-strength-medium = Medium
password-strength-strong = Strong
password-strength-very-strong = Very Strong

register-title = Create New Customer Account
register-personal = Personal Information
register-signin-info = Sign-in Information
register-button = Create an Account
register-success = Thank you for registering with our store.
register-email-taken = There is already an account with this email address.

login-title = Customer Login
login-registered = Registered Customers
login-registered-intro = If you have an account, sign in with your email address.
login-new = New Customers
login-new-intro = Creating an account has many benefits: check out faster, keep more than one address, track orders and more.
login-button = Sign In
login-forgot-link = Forgot Your Password?
login-failed = The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.
logout-success = You are signed out.

account-title = My Account
account-information = Account Information
account-contact = Contact Information
account-member-since = Customer since { $date }
account-change-password = Change Password
account-nav-dashboard = Account Dashboard
account-nav-edit = Account Information

edit-title = Change Password
edit-intro = Enter your current password, then choose a new one. Your other devices will be signed out.
edit-button = Save
edit-wrong-current = The password doesn't match this account. Verify the password and try again.
password-updated = You updated your password.

forgot-title = Forgot Your Password?
forgot-intro = Please enter your email address below to receive a password reset link.
forgot-button = Reset My Password
forgot-back = Go back
forgot-sent = If there is an account associated with { $email } you will receive an email with a link to reset your password.
reset-limit = Too many password reset requests. Please wait and try again or contact { $support }.
reset-link-expired = Your password reset link has expired.

create-password-title = Set a New Password
create-password-intro = Choose a new password for your account. After saving, sign in with it.
create-password-button = Reset Password

error-required-field = This is a required field.
error-email-invalid = Please enter a valid email address (Ex: johndoe@domain.com).
error-email-too-long = The email address is too long.
error-name-invalid = Please enter no more than 255 characters, without control characters.
password-too-short = The password needs at least { $min } characters. Create a new password and try again.
password-too-long = Please enter a password with at most { $max } characters.
password-has-spaces = The password can't contain spaces.
password-same-as-email = The password can't be the same as the email address. Create a new password and try again.
password-missing-classes = Minimum of different classes of characters in password is { $count }. Classes of characters: Lower Case, Upper Case, Digits, Special Characters.
password-too-common = This password is too common and easy to guess. Choose a less common password.
password-mismatch = New Password and Confirm New Password values didn't match.

error-title = Something went wrong
error-bad-request = The request could not be understood. Check what you entered and try again.
error-forbidden = This action is not allowed. Reload the page and try again.
error-not-found = We can't find the page you asked for.
error-timeout = The request took too long. Please try again.
error-too-large = The request is too large.
error-internal = Something went wrong on our side. Please try again in a moment.
error-home = Go to the home page

api-not-found = Request does not match any route.
api-invalid-body = The request body is not valid JSON of the expected shape.
api-unauthorized = The consumer isn't authorized to access self.

email-greeting = Hello { $name },
email-reset-subject = Reset your password
email-reset-intro = There was recently a request to change the password for your account. If you requested this change, set a new password here:
email-reset-button = Set a New Password
email-reset-expiry = This link works once and expires in { $hours } hours.
email-reset-ignore = If you did not make this request, you can ignore this email and your password will remain the same.
email-changed-subject = Your password was changed
email-changed-intro = The password of your account was just changed. Every device that was signed in has been signed out.
email-changed-not-you = If you did not change it, reset your password right away and contact { $support }.
email-footer = Questions? Write to { $support }.

# Admin
admin-name = Shop Admin
admin-nav-customers = Customers
admin-nav-config = Password Options
admin-nav-audit = Audit Log
admin-nav-mail = Mail Queue
